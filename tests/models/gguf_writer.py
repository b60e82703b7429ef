"""Test helper: write a transformers Llama directory as an F32 GGUF file (the layout llama.cpp's converter uses).

Only what the GGUF loader of transformers reads is written: llama hyper-parameters, a gpt2-style BPE tokenizer
(tokens + merges) and the tensors under llama.cpp names, with q/k rows permuted as llama.cpp does (transformers
undoes that permutation when loading).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_TOP = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight"}  # fmt: skip
_LAYER = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}


def _permute(weight: np.ndarray, heads: int) -> np.ndarray:
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )


def write_llama_gguf(model_dir: Path, out: Path) -> Path:
    """Write the Llama model + BPE tokenizer in ``model_dir`` to the GGUF file ``out``; return ``out``."""
    import gguf
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    cfg = model.config
    tokenizer_json = json.loads((model_dir / "tokenizer.json").read_text())
    vocab: dict[str, int] = tokenizer_json["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.__getitem__)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer_json["model"]["merges"]]
    special = {t["content"] for t in tokenizer_json["added_tokens"]}

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_merges(merges)
    writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    writer.add_bos_token_id(cfg.bos_token_id)
    writer.add_eos_token_id(cfg.eos_token_id)
    writer.add_pad_token_id(cfg.pad_token_id)
    for key, tensor in model.state_dict().items():
        weight = tensor.detach().float().numpy()
        if key in _TOP:
            name = _TOP[key]
        else:
            _, _, layer, *rest = key.split(".")
            part = ".".join(rest[:-1])
            name = f"blk.{layer}.{_LAYER[part]}.weight"
            if part == "self_attn.q_proj":
                weight = _permute(weight, cfg.num_attention_heads)
            elif part == "self_attn.k_proj":
                weight = _permute(weight, cfg.num_key_value_heads)
        writer.add_tensor(name, np.ascontiguousarray(weight))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
