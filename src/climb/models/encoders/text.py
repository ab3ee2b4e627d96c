"""Text / EHR encoder: a BERT-family model from transformers, tokenising inside ``forward``.

Real use: ``pretrained: emilyalsentzer/Bio_ClinicalBERT`` (model and tokenizer from the Hub).
Without downloads: ``config`` (``BertConfig`` kwargs) for a fresh model, and ``tokenizer`` a
``vocab.txt`` path or folder; :func:`train_wordpiece_vocab` writes one from a corpus.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_vocab(texts: Iterable[str], out_dir: str | Path,
                          vocab_size: int = 2000) -> Path:
    """Train a lower-cased WordPiece vocabulary on ``texts``; returns ``out_dir/vocab.txt``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS)
    tok.train_from_iterator((t or "" for t in texts), trainer)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    path = out / "vocab.txt"
    path.write_text("".join(f"{word}\n" for word, _ in vocab), encoding="utf-8")
    return path


def load_tokenizer(spec: str):
    """A fast BERT tokenizer from a Hub id, a folder, or a ``vocab.txt`` file."""
    import inspect

    from transformers import AutoTokenizer, BertTokenizerFast

    path = Path(spec)
    if path.is_dir() and (path / "vocab.txt").exists() and not (path / "tokenizer.json").exists():
        path = path / "vocab.txt"
    if not path.is_file():
        return AutoTokenizer.from_pretrained(spec)
    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers 5
        words = path.read_text(encoding="utf-8").splitlines()
        return BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True)
    return BertTokenizerFast(vocab_file=str(path), do_lower_case=True)


class TextEncoder(nn.Module):
    """``list[str]`` -> ``[B, out_dim]`` (CLS token or mean over tokens).

    Args:
        pretrained: Hub id or folder of a BERT-family model.
        config: ``BertConfig`` kwargs for a fresh model (``vocab_size`` is set from the
            tokenizer when omitted).
        tokenizer: Hub id, folder, or ``vocab.txt`` (defaults to ``pretrained``).
        max_length: truncation length in tokens.
        pooling: ``cls`` or ``mean``.
        dim: optional linear projection.
    """

    def __init__(
        self,
        pretrained: str | None = None,
        config: dict[str, Any] | None = None,
        tokenizer: str | None = None,
        max_length: int = 256,
        pooling: str = "cls",
        dim: int | None = None,
    ):
        super().__init__()
        import transformers as tf

        spec = tokenizer or pretrained
        if not spec:
            raise ValueError("text encoder needs `tokenizer` (or `pretrained`)")
        self.tokenizer = load_tokenizer(str(spec))
        if pretrained:
            self.backbone = tf.AutoModel.from_pretrained(pretrained)
        else:
            kwargs = {"vocab_size": len(self.tokenizer), **(config or {})}
            self.backbone = tf.BertModel(tf.BertConfig(**kwargs), add_pooling_layer=False)
        if pooling not in {"cls", "mean"}:
            raise ValueError(f"pooling must be 'cls' or 'mean', not {pooling!r}")
        self.pooling = pooling
        self.max_length = max_length
        hidden = self.backbone.config.hidden_size
        self.proj = nn.Linear(hidden, dim) if dim else nn.Identity()
        self.out_dim = dim or hidden

    def forward(self, texts: list[str | None]) -> torch.Tensor:
        device = next(self.parameters()).device
        enc = self.tokenizer([t or "" for t in texts], padding=True, truncation=True,
                             max_length=self.max_length, return_tensors="pt")
        enc = {k: v.to(device) for k, v in enc.items()}
        h = self.backbone(**enc).last_hidden_state
        if self.pooling == "cls":
            pooled = h[:, 0]
        else:
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.proj(pooled)
