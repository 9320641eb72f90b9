"""Text: tokenizer and vocabulary, the ERASER Movies loader, planted reviews, text masking, ERASER metrics."""

import json
from urllib.error import URLError

import pytest
import torch
from torch import nn

from sgt_course.data.text import Vocabulary, load_movies, make_planted_reviews, tokenize
from sgt_course.losses import sgt_loss
from sgt_course.masking import mask_tokens_bottom_k
from sgt_course.metrics import comprehensiveness, keep_tokens, sufficiency
from sgt_course.models import BiLSTMClassifier
from sgt_course.saliency import token_saliency


def test_tokenizer_and_vocabulary_round_trip():
    words = tokenize("It's a GREAT film, isn't it?")
    assert words == ["it's", "a", "great", "film", ",", "isn't", "it", "?"]
    vocab = Vocabulary.build([words, ["great", "plot"]])
    assert vocab.itos[:3] == ["<pad>", "<unk>", "great"], "most frequent first, after padding and unknown"
    assert vocab.decode(vocab.encode(words)) == words
    assert vocab.encode(["never-seen"]) == [1]
    batch = vocab.encode_batch([words, ["plot"]])
    assert batch.shape == (2, 8) and batch[1, 1:].eq(0).all()
    with pytest.raises(ValueError, match="min_count must be >= 1"):
        Vocabulary.build([words], min_count=0)


def write_movies(root, split="train"):
    folder = root / "movies"
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    (folder / "docs" / "posR_001.txt").write_text("a truly wonderful film .\nthe cast shines")
    (folder / "docs" / "negR_001.txt").write_text("dull and tedious from start to end")
    rows = [
        {"annotation_id": "posR_001.txt", "classification": "POS", "docids": None, "query": "sentiment?",
         "evidences": [[{"docid": "posR_001.txt", "start_token": 1, "end_token": 3, "text": "truly wonderful"}]]},
        {"annotation_id": "negR_001.txt", "classification": "NEG", "docids": None, "query": "sentiment?",
         "evidences": [[{"docid": "negR_001.txt", "start_token": 0, "end_token": 3, "text": "dull and tedious"}]]},
    ]
    (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))


def test_movies_loader_reads_the_eraser_format(tmp_path):
    write_movies(tmp_path)
    data = load_movies("train", root=tmp_path, download=False, min_count=1)
    assert data.source == "movies" and data.y.tolist() == [1, 0]
    assert data.text(0) == ["a", "truly", "wonderful", "film", ".", "the", "cast", "shines"]
    assert data.rationale[0].nonzero().flatten().tolist() == [1, 2]
    assert data.rationale[1].nonzero().flatten().tolist() == [0, 1, 2]
    assert data.tokens[1, 8:].eq(0).all(), "the shorter review is padded"


def test_movies_without_files_and_network_falls_back(tmp_path, monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr("torchvision.datasets.utils.download_and_extract_archive", no_network)
    data = load_movies("test", root=tmp_path, fallback_n=20)
    assert data.source == "planted-reviews" and len(data) == 20
    assert capsys.readouterr().out.startswith("ERASER Movies is not available")
    with pytest.raises(ValueError, match="split must be one of train, val, test"):
        load_movies("dev", root=tmp_path)


def test_planted_reviews_plant_the_rationale():
    data = make_planted_reviews(200, seed=0)
    assert data.y.sum() == 100 and (data.rationale.sum(1) == 3).all()
    for i in range(20):
        words = data.vocab.decode(data.tokens[i].tolist())
        planted = [data.vocab.itos[t] for t in data.tokens[i][data.rationale[i]].tolist()]
        polarity = ("great", "excellent", "wonderful", "superb", "brilliant", "delightful", "moving", "masterful")
        assert all((w in polarity) == bool(data.y[i]) for w in planted)
        assert 20 <= len(words) <= 40
    assert torch.equal(make_planted_reviews(10, seed=4).tokens, make_planted_reviews(10, seed=4).tokens)
    with pytest.raises(ValueError, match="rationales \\+ distractors < min_length"):
        make_planted_reviews(10, min_length=3)


def test_text_masking_copies_the_previous_salient_token():
    tokens = torch.tensor([[5, 6, 7, 8, 9, 0, 0]])
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.2, 0.7, 5.0, 5.0]])
    masked, mask = mask_tokens_bottom_k(tokens, scores, 0.4)  # round(0.4 * 5) = 2 lowest: positions 1 and 3
    assert mask.tolist() == [[False, True, False, True, False, False, False]]
    assert masked.tolist() == [[5, 5, 7, 7, 9, 0, 0]], "each masked token becomes the previous salient one"


def test_text_masking_at_the_start_uses_the_next_salient_token_and_never_touches_padding():
    tokens = torch.tensor([[5, 6, 7, 0], [3, 4, 0, 0]])
    scores = torch.tensor([[0.1, 0.2, 0.9, -9.0], [0.5, 0.1, -9.0, -9.0]])
    masked, mask = mask_tokens_bottom_k(tokens, scores, 0.6)  # round(1.8) = 2 of 3; round(1.2) = 1 of 2
    assert masked[0].tolist() == [7, 7, 7, 0], "no salient token before: take the first one after"
    assert masked[1].tolist() == [3, 3, 0, 0]
    assert not mask[:, -1].any(), "padding is never chosen, however low its score"


def test_text_masking_keeps_one_salient_token_and_checks_its_input():
    masked, mask = mask_tokens_bottom_k(torch.tensor([[4, 0]]), torch.tensor([[0.0, 0.0]]), 0.9)
    assert masked.tolist() == [[4, 0]] and not mask.any()
    with pytest.raises(TypeError, match="integer ids"):
        mask_tokens_bottom_k(torch.rand(1, 3), torch.rand(1, 3), 0.5)
    with pytest.raises(ValueError, match="scores must have the tokens' shape"):
        mask_tokens_bottom_k(torch.ones(1, 3, dtype=torch.long), torch.rand(1, 4), 0.5)


class BagOfWords(nn.Module):
    """p(class 1) rises with the count of token 2: a model whose ERASER scores can be computed by hand."""

    def forward(self, tokens):
        count = (tokens == 2).sum(1).float()
        return torch.stack([torch.zeros_like(count), count], 1)


def test_comprehensiveness_and_sufficiency_hand_computed():
    model = BagOfWords()
    tokens = torch.tensor([[2, 3, 2, 4]])
    scores = torch.tensor([[0.9, 0.1, 0.2, 0.3]])
    p = lambda count: torch.sigmoid(torch.tensor(float(count))).item()  # noqa: E731 - p(class 1)
    # bins 0.25 and 0.5: R = {0} then {0, 3}; the prediction j = 1 (two 2s).
    comp = ((p(2) - p(1)) + (p(2) - p(1))) / 2
    suff = ((p(2) - p(1)) + (p(2) - p(1))) / 2
    assert comprehensiveness(model, tokens, scores, bins=(0.25, 0.5)).item() == pytest.approx(comp)
    assert sufficiency(model, tokens, scores, bins=(0.25, 0.5)).item() == pytest.approx(suff)
    everything = torch.tensor([[0.9, 0.0, 0.8, 0.0]])  # R = both 2s at 0.5
    assert comprehensiveness(model, tokens, everything, bins=(0.5,)).item() == pytest.approx(p(2) - p(0))
    assert sufficiency(model, tokens, everything, bins=(0.5,)).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="bins must be fractions"):
        comprehensiveness(model, tokens, scores, bins=(0.0,))


def test_keep_tokens_compacts_in_order():
    tokens = torch.tensor([[5, 6, 7, 8, 0]])
    keep = torch.tensor([[True, False, True, False, False]])
    assert keep_tokens(tokens, keep).tolist() == [[5, 7, 0, 0, 0]]


def test_token_saliency_and_sgt_for_text():
    torch.manual_seed(0)
    model = BiLSTMClassifier(20, embed_dim=8, hidden=8)
    tokens = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    for method in ("gradient", "input_x_gradient", "integrated_gradients", "smoothgrad"):
        scores = token_saliency(model.eval(), tokens, torch.tensor([0, 1]), method)
        assert scores.shape == (2, 4) and (scores[tokens == 0] == 0).all() and (scores >= 0).all()
    loss = sgt_loss(model.train(), tokens, torch.tensor([0, 1]))
    loss.backward()
    assert model.embedding.weight.grad is not None and model.training
    with pytest.raises(ValueError, match="reuse_forward is not available for text"):
        sgt_loss(model, tokens, torch.tensor([0, 1]), reuse_forward=True)
    with pytest.raises(TypeError, match="embed\\(\\) and forward_embedded"):
        token_saliency(nn.Linear(4, 2), tokens, 0)
