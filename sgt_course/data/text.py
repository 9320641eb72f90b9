"""Text data without torchtext: a tokenizer, a vocabulary, the ERASER Movies rationales and an
offline corpus of reviews with planted rationale words.

Every set is a :class:`TextSet`: token ids (N, L) padded with 0, labels, and a rationale mask
(N, L) marking the tokens a human annotator (Movies) or the generator (planted) says carry the label.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from sgt_course.runtime import data_dir

PAD, UNK = "<pad>", "<unk>"
MOVIES_URL = "https://www.eraserbenchmark.com/zipped/movies.tar.gz"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Lower-case words (with inner apostrophes) and single punctuation marks: "It's great!" -> it's, great, !"""
    return _TOKEN.findall(text.lower())


class Vocabulary:
    """Token <-> id. Id 0 is padding, id 1 stands for unknown tokens."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokens must be unique")
        self.itos = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None) -> Vocabulary:
        """The vocabulary of tokenized ``texts``: tokens seen at least ``min_count`` times, most frequent first."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1; got {min_count}")
        counts = Counter(token for text in texts for token in text)
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(ranked[:max_size] if max_size else ranked)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids if i != 0]

    def encode_batch(self, texts: Sequence[Sequence[str]], max_len: int | None = None) -> Tensor:
        """Token ids (N, L) padded with 0, each text cut to ``max_len`` tokens."""
        rows = [self.encode(t[:max_len] if max_len else t) for t in texts]
        length = max((len(r) for r in rows), default=0) or 1
        return torch.tensor([r + [0] * (length - len(r)) for r in rows], dtype=torch.long)


@dataclass
class TextSet:
    """Token ids (N, L) with 0 = padding, labels (N,), rationale mask (N, L) bool, and the vocabulary."""

    tokens: Tensor
    y: Tensor
    rationale: Tensor
    vocab: Vocabulary
    source: str
    class_names: tuple[str, ...] = ("negative", "positive")

    @property
    def x(self) -> Tensor:
        """The inputs, as the training loop calls them."""
        return self.tokens

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def to(self, device: torch.device | str) -> TextSet:
        return TextSet(self.tokens.to(device), self.y.to(device), self.rationale.to(device), self.vocab, self.source,
                       self.class_names)

    def head(self, n: int | None) -> TextSet:
        if n is None:
            return self
        return TextSet(self.tokens[:n], self.y[:n], self.rationale[:n], self.vocab, self.source, self.class_names)

    def text(self, i: int) -> list[str]:
        """Sample ``i`` as tokens."""
        return self.vocab.decode(self.tokens[i].tolist())


POSITIVE = ("great", "excellent", "wonderful", "superb", "brilliant", "delightful", "moving", "masterful")
NEGATIVE = ("awful", "terrible", "boring", "dreadful", "bland", "tedious", "clumsy", "painful")
NEUTRAL = tuple("""the a an this that film movie story plot scene scenes actor actors actress director camera music
score script cast role roles character characters ending beginning audience time minutes hour sequence dialogue
and with of in on at for to from by about as it its his her their was is were are has had which who when while
then there here after before during first second final one two three city house night day family friend
friends war town car road studio year years setting costume light sound editing pace tone""".split())


def make_planted_reviews(n: int = 1000, *, min_length: int = 20, max_length: int = 40, rationales: int = 3,
                         distractors: int = 1, seed: int = 0) -> TextSet:
    """Reviews whose label is carried by planted rationale words inside neutral filler.

    Each review has a random length in [min_length, max_length] of neutral words; ``rationales``
    words of the label's polarity (positive = 1) and ``distractors`` words of the other polarity are
    written at random distinct positions. Only the label's words are rationale, so a model must weigh
    them against the distractor rather than react to any sentiment word. Labels are balanced.
    """
    if n < 1 or min_length < rationales + distractors + 1 or max_length < min_length:
        raise ValueError(f"need n >= 1 and rationales + distractors < min_length <= max_length; got n={n}, "
                         f"lengths [{min_length}, {max_length}], {rationales} rationales, {distractors} distractors")
    g = torch.Generator().manual_seed(seed)
    vocab = Vocabulary(list(NEUTRAL + POSITIVE + NEGATIVE))
    y = (torch.arange(n) % 2)[torch.randperm(n, generator=g)]
    lengths = torch.randint(min_length, max_length + 1, (n,), generator=g)
    neutral = torch.tensor(vocab.encode(NEUTRAL))
    positive, negative = torch.tensor(vocab.encode(POSITIVE)), torch.tensor(vocab.encode(NEGATIVE))
    tokens = neutral[torch.randint(0, len(neutral), (n, max_length), generator=g)]
    positions = torch.arange(max_length).expand(n, max_length)
    tokens = torch.where(positions < lengths[:, None], tokens, torch.zeros_like(tokens))
    # Distinct random positions inside each review: rank random keys, keep the first few.
    keys = torch.rand(n, max_length, generator=g).masked_fill(positions >= lengths[:, None], 2.0)
    slots = keys.argsort(1)[:, :rationales + distractors]
    label_words = torch.where(y[:, None] == 1, positive[torch.randint(0, len(positive), (n, rationales), generator=g)],
                              negative[torch.randint(0, len(negative), (n, rationales), generator=g)])
    other_words = torch.where(y[:, None] == 1, negative[torch.randint(0, len(negative), (n, distractors), generator=g)],
                              positive[torch.randint(0, len(positive), (n, distractors), generator=g)])
    tokens = tokens.scatter(1, slots, torch.cat([label_words, other_words], 1))
    rationale = torch.zeros(n, max_length, dtype=torch.bool).scatter(1, slots[:, :rationales], True)
    return TextSet(tokens, y.long(), rationale, vocab, "planted-reviews")


def _read_movies(folder: Path, split: str, vocab: Vocabulary | None, max_len: int, min_count: int) -> TextSet:
    annotations = [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines() if line.strip()]
    documents, labels, spans = [], [], []
    for item in annotations:
        docid = item.get("docids", [item["annotation_id"]])[0] if item.get("docids") else item["annotation_id"]
        documents.append((folder / "docs" / docid).read_text().split())
        labels.append(1 if item["classification"].upper().startswith("POS") else 0)
        spans.append([(e["start_token"], e["end_token"]) for group in item["evidences"] for e in group
                      if e.get("docid", docid) == docid])
    tokens_text = [[t.lower() for t in doc] for doc in documents]
    vocab = vocab or Vocabulary.build(tokens_text, min_count=min_count)
    tokens = vocab.encode_batch(tokens_text, max_len)
    rationale = torch.zeros(tokens.shape, dtype=torch.bool)
    for i, doc_spans in enumerate(spans):
        for start, end in doc_spans:
            rationale[i, start:min(end, tokens.shape[1])] = True
    return TextSet(tokens, torch.tensor(labels), rationale, vocab, "movies")


def load_movies(split: str = "train", *, root: str | Path | None = None, download: bool = True,
                vocab: Vocabulary | None = None, max_len: int = 512, min_count: int = 2, fallback_n: int = 1000,
                seed: int = 0) -> TextSet:
    """The ERASER Movies rationales (DeYoung et al. 2020): reviews, sentiment labels and the annotated
    evidence spans, from ``<root>/movies/`` (``docs/`` and ``{train,val,test}.jsonl``), downloaded once.

    Without the files and without network it says so in one line and returns planted reviews.
    Pass the training set's ``vocab`` when loading ``val``/``test``; a new vocabulary keeps the words
    seen at least ``min_count`` times, and documents are cut to ``max_len`` tokens.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be one of train, val, test; got {split!r}")
    folder = Path(root or data_dir() / "eraser") / "movies"
    try:
        if not (folder / f"{split}.jsonl").exists():
            if not download:
                raise FileNotFoundError(f"{folder / (split + '.jsonl')} does not exist and download=False")
            from torchvision.datasets.utils import download_and_extract_archive

            download_and_extract_archive(MOVIES_URL, str(folder.parent))
        return _read_movies(folder, split, vocab, max_len, min_count)
    except (OSError, RuntimeError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        print(f"ERASER Movies is not available ({(lines[-1] if lines else type(error).__name__)[:120]}); "
              f"using generated reviews with planted rationale words instead.")
        return make_planted_reviews(fallback_n, seed=seed * 2 + (split != "train"))
