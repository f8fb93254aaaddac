"""Push a directory written in the Hub layout to a Hub dataset repository.

One config per ``DatasetDict.push_to_hub(config_name=...)``, as the Hub expects (each push
registers its config in the repository's card), then this package's own card (the recipe and
checksums, every config listed) and the files beside the data. ``cookbook generate --push-to-hub``
and ``cookbook push`` both come here. The data is always written locally first, so a push that
cannot happen loses nothing: it raises :class:`PushError`, one line saying why and where the data is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)


class PushError(RuntimeError):
    """A push that did not happen (offline, no token, refused, unreachable); the data is still local."""


def _why(error: Exception, repo_id: str) -> str:
    """One line for a failed Hub call."""
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    if isinstance(error, OfflineModeIsEnabled):
        return "the Hub is offline (HF_HUB_OFFLINE is set)"
    if isinstance(error, HFValidationError):
        return f"{repo_id!r} is not a valid repository id (NAMESPACE/NAME)"
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        code = error.response.status_code
        if code == 401:
            return "the Hub refused the token (401 Unauthorized; log in again with `hf auth login`)"
        if code == 403:
            return f"the Hub refused the upload (403 Forbidden: the token may not write to {repo_id})"
        return f"the Hub answered {code} ({str(error).splitlines()[0]})"
    first = (str(error).splitlines() or [""])[0] or type(error).__name__
    return f"the Hub could not be reached ({type(error).__name__}: {first})"


def push_dataset(out_dir: str | os.PathLike, repo_id: str, *, private: bool = False, token: Optional[str] = None,
                 commit_message: str = "Upload with cookbook-datasets") -> str:
    """Upload a Hub-layout directory (written by this package) to ``repo_id``; returns its URL.

    Raises :class:`PushError` (one line: why, and where the data is) when the push cannot happen,
    and ``FileNotFoundError``/``ValueError`` when ``out_dir`` is no Hub-layout directory."""
    from .hub_layout import read_card
    from .loading import hub_offline
    from .progress import quiet_datasets

    out = Path(out_dir)
    card = read_card(out)  # a directory that is not the Hub layout fails here, before any network

    def failed(why: str) -> PushError:
        return PushError(f"cannot push {out} to {repo_id}: {why}. The data is in {out.absolute()}; "
                         f"push it later with: cookbook push {out} {repo_id}")

    if hub_offline():
        raise failed("the Hub is offline (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set)")
    import datasets
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, HTTPError, OfflineModeIsEnabled

    token = token or huggingface_hub.get_token()
    if not token:
        raise failed("no Hugging Face token (log in with `hf auth login` or set HF_TOKEN)")
    try:
        for name, splits in card.configs.items():
            files = {split: [str(out / f) for f in fs] for split, fs in splits.items() if fs}
            with quiet_datasets():  # reading the local files back is no stage of its own
                data = datasets.load_dataset("parquet", data_files=files)
            logger.info("pushing config %s (%s) to %s", name, ", ".join(files), repo_id)
            data.push_to_hub(repo_id, config_name=name, data_dir=name, private=private, token=token,
                             num_shards={split: len(fs) for split, fs in files.items()},
                             commit_message=f"{commit_message}: config {name}")
        huggingface_hub.HfApi(token=token).upload_folder(
            folder_path=str(out), repo_id=repo_id, repo_type="dataset", commit_message=f"{commit_message}: card",
            ignore_patterns=[f"{name}/*" for name in card.configs])  # the card and recipe files, not the data again
    except (HfHubHTTPError, OfflineModeIsEnabled, HFValidationError, HTTPError, ConnectionError, TimeoutError) as e:
        # HTTPError: the HTTP client's own errors (connection refused, timeouts), which the Hub client re-raises
        raise failed(_why(e, repo_id)) from e
    url = f"{huggingface_hub.constants.ENDPOINT}/datasets/{repo_id}"
    logger.info("pushed %s to %s", out, url)
    return url
