"""Tokenizers built locally for random-weight models (no hub): a byte-level BPE for LLMs and a tiny CLIP BPE.

Random-weight models measure speed and memory; their tokenizers only need to be valid, deterministic and small.
The LLM tokenizer is a byte-level BPE trained in milliseconds on the bundled evaluation text (every byte is in
the base alphabet, so any input encodes). The CLIP tokenizer is written by hand in CLIP's own file format so that
``CLIPTokenizer.from_pretrained(dir)`` (what diffusers uses) loads it.

Example:
    >>> from blaze_lab.models.vocab import train_bpe_tokenizer
    >>> tok = train_bpe_tokenizer(vocab_size=512)                      # doctest: +SKIP
    >>> tok.padding_side, tok.pad_token, tok.eos_token                  # doctest: +SKIP
    ('left', '<pad>', '</s>')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BOS, EOS, PAD = "<s>", "</s>", "<pad>"

# A minimal chat template so engines that call ``apply_chat_template`` work on random models too.
CHAT_TEMPLATE = (
    "{% for message in messages %}<s>{{ message['role'] }}\n{{ message['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


def train_bpe_tokenizer(vocab_size: int = 768, text: str | None = None) -> Any:
    """Train a byte-level BPE on ``text`` (default: the bundled eval text) and wrap it for transformers.

    Returns a ``PreTrainedTokenizerFast`` with ``padding_side="left"`` (decoder-only batching), ``<s>`` prepended
    to every sequence (as Llama does), and pad/eos/bos tokens set. Deterministic for a given text and size.

    Example:
        >>> tok = train_bpe_tokenizer(512)                                # doctest: +SKIP
        >>> tok.decode(tok("hello harbor").input_ids, skip_special_tokens=True)  # doctest: +SKIP
        'hello harbor'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from blaze_lab.models.texts import eval_text, prompts

    corpus = text if text is not None else eval_text() + "\n".join(prompts())
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus.splitlines(), trainer=trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        padding_side="left",
        model_max_length=4096,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def _bytes_to_unicode() -> dict[int, str]:
    # CLIP/GPT-2's reversible byte -> printable character table (the BPE works on these characters).
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


# Hand-written merges for common English pieces; each merge only joins tokens that exist by then.
_CLIP_MERGES = [
    "t h", "th e</w>", "a n", "an d</w>", "i n", "in g</w>", "o f</w>", "t o</w>", "i s</w>", "o n</w>",
    "e r</w>", "e d</w>", "a t</w>", "o r</w>", "e n", "a r", "o u", "r e", "s t", "th e",
    "c a", "ca t</w>", "d o", "do g</w>", "h o", "ho u", "s e</w>", "hou se</w>", "p h", "ph o",
    "pho t", "phot o</w>", "i t</w>", "w i", "wi th</w>", "u n</w>", "s un</w>", "b o", "bo a", "boa t</w>",
    "e a</w>", "s ea</w>",
]  # fmt: skip


def clip_vocab_and_merges() -> tuple[dict[str, int], list[str]]:
    """Vocabulary and merge list of the tiny CLIP BPE (every byte, alone and word-final, plus a few merges).

    Example:
        >>> vocab, merges = clip_vocab_and_merges()
        >>> vocab["<|endoftext|>"] == len(vocab) - 1
        True
    """
    base = list(_bytes_to_unicode().values())
    tokens = base + [c + "</w>" for c in base]
    known = set(tokens)
    merges: list[str] = []
    for merge in _CLIP_MERGES:
        left, right = merge.split(" ")
        if left in known and right in known and left + right not in known:
            merges.append(merge)
            tokens.append(left + right)
            known.add(left + right)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(tokens)}, merges


def write_clip_tokenizer(path: Path, max_length: int = 77) -> Any:
    """Write the tiny CLIP tokenizer to ``path`` and return it loaded with ``CLIPTokenizer.from_pretrained``.

    ``CLIPTokenizer(vocab_file=..., merges_file=...)`` silently ignores its files in transformers 5
    (seen with the pinned version), so the files are written first and loaded the way diffusers loads them.

    Example:
        >>> tok = write_clip_tokenizer(Path("/tmp/clip_tok"))            # doctest: +SKIP
        >>> tok("a cat").input_ids[0] == tok.bos_token_id               # doctest: +SKIP
        True
    """
    from transformers import CLIPTokenizer

    path.mkdir(parents=True, exist_ok=True)
    vocab, merges = clip_vocab_and_merges()
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": max_length,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    }
    (path / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    tokenizer = CLIPTokenizer.from_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return tokenizer


__all__ = ["BOS", "CHAT_TEMPLATE", "EOS", "PAD", "clip_vocab_and_merges", "train_bpe_tokenizer", "write_clip_tokenizer"]
