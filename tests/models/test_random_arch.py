"""Random-weight architectures: built once into the cache, deterministic, loadable by the engines' loaders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from blaze_lab.models import random_arch, resolve_model
from blaze_lab.models.cache import MARKER
from blaze_lab.models.random_arch import ARCHS, LLAMA_1B, SD15, SMOLLM2_135M, RandomArch


def test_tiny_llama_materializes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ARCHS["tiny-llama"]
    builds: list[Path] = []

    def counting_build(path: Path, seed: int) -> Path:
        builds.append(path)
        return real.build(path, seed)

    monkeypatch.setitem(ARCHS, "tiny-llama", RandomArch(real.name, real.kind, real.description, 0, counting_build))
    monkeypatch.setattr(random_arch, "BUILDER_VERSION", 999)  # a cache entry no other test has built
    first = resolve_model("random:tiny-llama")
    marker_mtime = (first.path / MARKER).stat().st_mtime_ns
    second = resolve_model("tiny-llama")
    assert len(builds) == 1
    assert second.path == first.path and (first.path / MARKER).stat().st_mtime_ns == marker_mtime
    assert (first.kind, first.source, first.random_weights) == ("llm", "fixture", True)
    assert first.path.name == "tiny-llama-seed0-v999"


def test_tiny_llama_loads_and_generates_batched(tiny_llama_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    assert tokenizer.padding_side == "left"
    assert None not in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id)
    assert model.config.vocab_size == len(tokenizer) and model.config.num_hidden_layers == 2
    batch = tokenizer(["a harbor", "the baker greets each customer by name"], return_tensors="pt", padding=True)
    assert batch.input_ids[0, 0] == tokenizer.pad_token_id  # left padded
    out = model.generate(**batch, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape == (2, batch.input_ids.shape[1] + 4)
    text = tokenizer.decode(tokenizer("hello harbor town").input_ids, skip_special_tokens=True)
    assert text == "hello harbor town"
    assert "assistant" in tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                                        add_generation_prompt=True)  # fmt: skip


def test_builds_are_deterministic_per_seed(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from blaze_lab.models import build_tiny_llama

    a = load_file(build_tiny_llama(tmp_path / "a", seed=0) / "model.safetensors")
    b = load_file(build_tiny_llama(tmp_path / "b", seed=0) / "model.safetensors")
    c = load_file(build_tiny_llama(tmp_path / "c", seed=1) / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["model.embed_tokens.weight"], c["model.embed_tokens.weight"])
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "c" / "tokenizer.json").read_bytes()


def test_tiny_sd_resolves_and_runs_two_steps() -> None:
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    resolved = resolve_model("random:tiny-sd", kind="diffusion")
    assert (resolved.kind, resolved.source, resolved.random_weights) == ("diffusion", "fixture", True)
    tokenizer = CLIPTokenizer.from_pretrained(resolved.path / "tokenizer")
    assert tokenizer.model_max_length == 77
    assert (resolved.path / "tokenizer" / "merges.txt").read_text().startswith("#version: 0.2\n")
    pipe = StableDiffusionPipeline.from_pretrained(resolved.path)
    pipe.set_progress_bar_config(disable=True)
    assert type(pipe.scheduler).__name__ == "PNDMScheduler" and pipe.safety_checker is None
    image = pipe(
        "a boat at sea", num_inference_steps=2, height=64, width=64, output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).images  # fmt: skip
    assert image.shape == (1, 64, 64, 3)
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def test_tiny_ddpm_runs(tiny_ddpm_dir: Path) -> None:
    from diffusers import DDPMPipeline

    pipe = DDPMPipeline.from_pretrained(tiny_ddpm_dir)
    pipe.set_progress_bar_config(disable=True)
    image = pipe(num_inference_steps=2, output_type="np", generator=torch.Generator().manual_seed(0)).images
    assert image.shape == (1, 32, 32, 3)


def _meta_params(module_factory: object) -> int:
    with torch.device("meta"):
        module = module_factory()  # type: ignore[operator]
    return sum(p.numel() for p in module.parameters())


def test_large_shapes_match_their_namesakes_without_building_them() -> None:
    # Parameter counts on the meta device (no memory, no time): the shapes are the published ones.
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaForCausalLM

    llama_1b = _meta_params(lambda: LlamaForCausalLM(LlamaConfig(**LLAMA_1B)))
    assert abs(llama_1b - 1_235_814_400) < 1e6  # Llama-3.2-1B
    smollm2 = _meta_params(lambda: LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M)))
    assert abs(smollm2 - 134_515_008) < 1e6  # SmolLM2-135M, as measured on the real dequantized model
    assert abs(_meta_params(lambda: UNet2DConditionModel(**SD15["unet"])) - 859_520_964) < 1e6
    assert abs(_meta_params(lambda: AutoencoderKL(**SD15["vae"])) - 83_653_863) < 1e6
    clip = _meta_params(lambda: CLIPTextModel(CLIPTextConfig(vocab_size=49408, **SD15["text_encoder"])))
    assert abs(clip - 123_060_480) < 1e6
    assert {a.kind for a in ARCHS.values()} == {"llm", "diffusion"}
