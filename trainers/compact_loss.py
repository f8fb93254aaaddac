"""An ``SFTTrainer`` whose LM head reads only the positions the loss uses.

With completion-only loss most positions of a row are prompt: on template rows of ~100 tokens
about 18 carry a label. TRL's fused LM head projects only labelled positions on Triton devices
(GPUs) but every position elsewhere, through all 49k vocabulary rows, in the forward pass and again
in the backward pass; on a CPU that is a fifth of the step. Here the backbone's hidden states are
gathered at the labelled positions first, so the head and the cross-entropy see only those.

The loss, its normalisation (``num_items_in_batch`` under gradient accumulation) and the logged
``entropy`` / ``mean_token_accuracy`` are the ones TRL computes. Anything this path does not cover
(a distributed wrapper, logit soft-capping or scaling, MoE auxiliary losses, DFT loss, label
smoothing, a custom loss function, callers that want the logits) goes to TRL's own path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from trl import SFTTrainer

# Config attributes that change logits beyond ``lm_head(hidden)``.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                     "logits_scaling")


def causal_lm(model):
    """The transformers model inside a PEFT wrapper (LoRA layers are injected in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


class CompactLossSFTTrainer(SFTTrainer):
    """``SFTTrainer`` computing the LM head and the loss on labelled positions only."""

    def _compact_path_applies(self, model, return_outputs: bool) -> bool:
        if return_outputs or self.accelerator.num_processes > 1 or self.aux_loss_enabled:
            return False
        if self.args.loss_type != "nll" or self.compute_loss_func is not None or self.label_smoother is not None:
            return False
        lm = causal_lm(model)
        config = lm.config.get_text_config()
        if any(getattr(config, name, None) not in (None, 1.0) for name in _LOGIT_TRANSFORMS):
            return False
        head = lm.get_output_embeddings()
        return head is not None and getattr(head, "bias", None) is None and hasattr(lm, lm.base_model_prefix)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self._compact_path_applies(model, return_outputs):
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        mode = "train" if self.model.training else "eval"
        lm = causal_lm(model)
        backbone = getattr(lm, lm.base_model_prefix)
        labels = inputs["labels"]
        model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        # accelerate applies mixed precision by wrapping the top model's forward, which this bypasses
        with self.accelerator.autocast():
            hidden = backbone(**model_inputs, use_cache=False).last_hidden_state
            targets = labels[:, 1:]
            keep = targets != -100
            logits = lm.get_output_embeddings()(hidden[:, :-1][keep]).float()  # [labelled positions, vocab]
        chosen = targets[keep]
        nll = F.cross_entropy(logits, chosen, reduction="sum")
        denominator = keep.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        loss = nll / torch.as_tensor(denominator, device=nll.device)

        with torch.no_grad():  # the metrics TRL logs, from the same logits
            count = keep.sum()
            if count > 0:
                log_p = torch.log_softmax(logits, dim=-1)
                entropy = -(log_p.exp() * log_p).sum(-1).mean().item()
                accuracy = (logits.argmax(-1) == chosen).float().mean().item()
            else:
                entropy = accuracy = 0.0
            self._metrics[mode]["entropy"].append(entropy)
            self._metrics[mode]["mean_token_accuracy"].append(accuracy)
            if mode == "train":
                mask = inputs.get("attention_mask")
                self._total_train_tokens += int(mask.sum() if mask is not None else inputs["input_ids"].numel())
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss
