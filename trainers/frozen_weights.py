"""Frozen LoRA base weights stored in bf16 when the step computes in bf16 anyway.

Under bf16 autocast every linear layer casts its fp32 weight to bf16 on each call; autocast caches
casts only for weights that require gradients, so with LoRA the frozen base weights (nearly all of
the model) are cast again at every step. Casting them once gives the same bf16 operands, so the
same results, without that memory traffic. The embedding and the LM head tied to it are left as
they are (the residual stream stays fp32), and so are the LoRA weights, which train in fp32.
"""

from __future__ import annotations

import torch


def frozen_weights_go_bf16(use_lora: bool, precision: str, device: str, dtype) -> bool:
    """Whether training stores the frozen weights in bf16: LoRA computing in bf16 on a CPU (where
    weights load in fp32) and no weight dtype chosen by the user."""
    return use_lora and precision == "bf16" and device == "cpu" and dtype is None


def store_frozen_linear_weights(model: torch.nn.Module, dtype=torch.bfloat16) -> int:
    """Cast the frozen weights of LoRA-wrapped linear layers to ``dtype``; return how many."""
    from peft.tuners.lora import LoraLayer

    count = 0
    for module in model.modules():
        if isinstance(module, LoraLayer):
            base = module.get_base_layer()
            if isinstance(base, torch.nn.Linear) and not base.weight.requires_grad:
                base.weight.data = base.weight.data.to(dtype)
                if base.bias is not None and not base.bias.requires_grad:
                    base.bias.data = base.bias.data.to(dtype)
                count += 1
    return count
