from dataclasses import asdict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ntpipe.baseline import kmer_features
from ntpipe.config import PRESETS, ModelConfig, TrainConfig, from_dict, model_config, train_config
from ntpipe.model import Ensemble, NucleicTransformer, from_config, load_model, min_length, save_model


def tiny(**overrides):
    return model_config("small", **{"d_model": 16, "n_heads": 2, "d_ff": 32, "n_layers": 2, "kmers": [5], "pool": 2, **overrides})


def make(**overrides):
    torch.manual_seed(0)
    model = NucleicTransformer(tiny(**overrides)).eval()
    if model.kmer_linear is not None:  # its weights start at zero: give it some
        torch.nn.init.normal_(model.kmer_linear.linear.weight)
    return model


def test_shapes():
    model = make()
    logits = model(torch.randint(0, 5, (3, 40)))
    assert logits.shape == (3,)
    assert torch.isfinite(logits).all()
    logits = model(torch.randint(0, 5, (1, 40)), torch.tensor([40]))
    assert logits.shape == (1,)


@pytest.mark.parametrize("overrides", [{}, {"kmers": [3, 7], "pool": 3}, {"pool": 1}, {"kmer_linear": 0}, {"kmer_linear": 3}])
def test_padding_invariance(overrides):
    model = make(**overrides)
    g = torch.Generator().manual_seed(1)
    lengths = [40, 23, 31, 12]
    seqs = [torch.randint(0, 5, (n,), generator=g) for n in lengths]
    padded = torch.full((len(seqs), 45), 4, dtype=torch.long)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    batch = model(padded, torch.tensor(lengths))
    alone = torch.cat([model(s[None]) for s in seqs])
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=1e-5)


def test_uint8_tokens_and_short_sequence():
    model = make()
    x = torch.randint(0, 5, (2, 30), dtype=torch.uint8)
    torch.testing.assert_close(model(x), model(x.long()))
    short = torch.randint(0, 4, (2, min_length(model.cfg) - 2))  # shorter than one k-mer token: still defined
    assert torch.isfinite(model(short)).all()


def test_n_is_a_token():
    model = make()
    x = torch.randint(0, 4, (1, 40))
    y = x.clone()
    y[0, 10] = 4
    assert not torch.allclose(model(x), model(y))
    # an N inside a sequence is not padding: it is not the same as a shorter sequence
    assert not torch.allclose(model(y), model(y[:, :20], torch.tensor([20])))


def test_attention_weights():
    model = make()
    x = torch.randint(0, 5, (2, 40))
    lengths = torch.tensor([40, 25])
    logits, weights = model(x, lengths, return_attention=True)
    T = (40 - 5 + 1) // 2
    assert weights.shape == (2, 2, 2, T, T)  # (B, layers, heads, T, T)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 2, T))
    valid = (25 - 5 + 1) // 2
    assert weights[1, ..., valid:].abs().max() == 0  # padded keys get no weight
    torch.testing.assert_close(logits, model(x, lengths), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("overrides", [{}, {"kmer_linear": 0}, {"kmer_linear": 2}, {"min_wavelength": 50}])
def test_save_load_round_trip(tmp_path, overrides):
    model = make(**overrides)
    path = tmp_path / "model.pt"
    save_model(path, model, model.cfg, {"mark": "H3K4me3", "window": 1000, "auc": np.float64(0.9)})
    loaded, cfg, meta = load_model(path)
    assert cfg == model.cfg
    assert meta == {"mark": "H3K4me3", "window": 1000, "auc": 0.9}
    x = torch.randint(0, 5, (3, 40))
    torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "ntpipe-model" and raw["version"] == 1
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_kmer_linear_adds_the_kmer_regression_term():
    torch.manual_seed(0)
    plain = NucleicTransformer(tiny(kmer_linear=0))
    torch.manual_seed(0)
    model = NucleicTransformer(tiny(kmer_linear=3)).eval()
    x = torch.randint(0, 5, (4, 60), generator=torch.Generator().manual_seed(2))
    lengths = torch.tensor([60, 45, 20, 9])
    torch.testing.assert_close(model(x, lengths), plain.eval()(x, lengths))  # it starts at zero: the same model
    torch.nn.init.normal_(model.kmer_linear.linear.weight)
    torch.nn.init.normal_(model.kmer_linear.linear.bias)
    # the frequencies ntpipe.baseline counts (N and padding skipped), scaled by 4**k
    freq = torch.from_numpy(kmer_features(x.numpy().astype(np.uint8), lengths.numpy(), k=3)) * 64
    term = freq @ model.kmer_linear.linear.weight[0] + model.kmer_linear.linear.bias
    torch.testing.assert_close(model(x, lengths), plain(x, lengths) + term, atol=1e-5, rtol=1e-5)
    # and it trains as that regression: the gradient of its weights is the frequencies
    grad = torch.autograd.grad(model.kmer_linear(x, lengths).sum(), model.kmer_linear.linear.weight)[0]
    torch.testing.assert_close(grad[0], freq.sum(dim=0).float(), atol=1e-4, rtol=1e-5)


def test_kmer_term_counts_what_a_loop_counts():
    # N runs inside a window, an all-N row, lengths of 0 and beyond L, uint8 tokens, a window shorter than k
    from ntpipe.encoding import N_TOKEN
    from ntpipe.model import KmerFrequencies

    k = 3
    term = KmerFrequencies(k)
    torch.nn.init.normal_(term.linear.weight)
    torch.nn.init.normal_(term.linear.bias)
    w, b = term.linear.weight[0].detach().double(), term.linear.bias.item()
    x = torch.randint(0, 4, (6, 12), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    x[0, 4:6] = N_TOKEN
    x[1] = N_TOKEN
    lengths = torch.tensor([12, 12, 0, 20, 7, 2])

    def by_loop(row, length):
        words = [row[i : i + k] for i in range(min(length, len(row)) - k + 1)]
        words = [word for word in words if N_TOKEN not in word]
        if not words:
            return b
        codes = [int(sum(int(base) * 4 ** (k - 1 - j) for j, base in enumerate(word))) for word in words]
        return float(sum(w[c] for c in codes)) / len(words) * 4**k + b

    expected = torch.tensor([by_loop(x[i].tolist(), int(lengths[i])) for i in range(len(x))], dtype=torch.float64)
    torch.testing.assert_close(term(x, lengths).double(), expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(term(x[:, :2], torch.tensor([2] * 6)), term.linear.bias.expand(6))  # shorter than k


def test_lookup_sum_equals_embedding_bag_and_its_gradient():
    from ntpipe.model import _LookupSum

    table = torch.randn(40, 6, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 40, (200, 3), dtype=torch.int32, generator=torch.Generator().manual_seed(0))
    grad = torch.randn(200, 6, dtype=torch.float64)
    expected = F.embedding_bag(idx, table, mode="sum")
    (expected_grad,) = torch.autograd.grad(expected, table, grad)
    out = _LookupSum.apply(idx, table)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(torch.autograd.grad(out, table, grad)[0], expected_grad)
    with torch.inference_mode():
        torch.testing.assert_close(_LookupSum.apply(idx, table), expected.detach())


def test_kmer_linear_on_sequences_shorter_than_its_k():
    model = make(kmers=[3], pool=1, kmer_linear=5)  # min_length 3: the model pads 2 bases to 3, the term needs 5
    x = torch.randint(0, 4, (2, 2))
    assert torch.isfinite(model(x)).all()
    torch.testing.assert_close(model.kmer_linear(x, torch.tensor([2, 1])), model.kmer_linear.linear.bias.expand(2))


def test_kmer_term_of_several_sizes_is_the_sum_of_each_sizes_term():
    from ntpipe.model import KmerFrequencies

    both, two, three = KmerFrequencies([2, 3]), KmerFrequencies(2), KmerFrequencies(3)
    torch.nn.init.normal_(both.linear.weight)
    torch.nn.init.normal_(both.linear.bias)
    with torch.no_grad():  # the weights of the 16 2-mers first (their frequencies scaled 2x more), then the 64 3-mers
        two.linear.weight.copy_(both.linear.weight[:, :16] * 2)
        three.linear.weight.copy_(both.linear.weight[:, 16:])
        two.linear.bias.copy_(both.linear.bias)
    x = torch.randint(0, 5, (5, 30), generator=torch.Generator().manual_seed(4))
    lengths = torch.tensor([30, 25, 3, 2, 0])  # a row with 2-mers and no 3-mer; rows with neither
    torch.testing.assert_close(both(x, lengths), two(x, lengths) + three(x, lengths), atol=1e-5, rtol=1e-5)
    assert both.ks == [2, 3] and both.linear.weight.shape == (1, 16 + 64)


def test_model_files_from_before_kmer_words_were_listed_load(tmp_path):
    model = make(kmer_words=3)
    assert model.cfg.kmer_words == [3] and model.kmer_words.ks == [3]
    path = tmp_path / "model.pt"
    save_model(path, model, model.cfg)
    raw = torch.load(path, weights_only=True)
    raw["model_config"]["kmer_words"] = 3  # as written when it was one size
    torch.save(raw, path)
    loaded, cfg, _ = load_model(path)
    assert cfg.kmer_words == [3]
    x = torch.randint(0, 5, (2, 40))
    torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)


def test_model_files_from_before_kmer_linear_load(tmp_path):
    model = make(kmer_linear=0)
    path = tmp_path / "model.pt"
    save_model(path, model, model.cfg)
    raw = torch.load(path, weights_only=True)
    del raw["model_config"]["kmer_linear"]  # as written before the field existed
    torch.save(raw, path)
    loaded, cfg, _ = load_model(path)
    assert cfg.kmer_linear == 0 and loaded.kmer_linear is None
    x = torch.randint(0, 5, (2, 40))
    torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)


def test_an_ensemble_averages_its_members_logits_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = from_config(tiny(members=3, kmer_linear=2)).eval()
    assert isinstance(model, Ensemble) and len(model.parts()) == 3
    assert all(part.cfg.members == 1 for part in model.parts())
    for part in model.parts():  # the k-mer terms start at zero: give them some
        torch.nn.init.normal_(part.kmer_linear.linear.weight)
    x = torch.randint(0, 5, (4, 40), generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([40, 33, 20, 9])
    each = torch.stack([part(x, lengths) for part in model.parts()], dim=1)
    assert not torch.allclose(each[:, 0], each[:, 1])  # initialised apart
    torch.testing.assert_close(model.member_logits(x, lengths), each)
    torch.testing.assert_close(model(x, lengths), each.mean(dim=1))
    path = tmp_path / "model.pt"
    save_model(path, model, model.cfg)
    loaded, cfg, _ = load_model(path)
    assert cfg.members == 3 and isinstance(loaded, Ensemble)
    torch.testing.assert_close(loaded(x, lengths), model(x, lengths), atol=0, rtol=0)
    with pytest.raises(ValueError, match="members'"):
        model(x, lengths, return_attention=True)
    single = make()
    torch.testing.assert_close(single.member_logits(x, lengths), single(x, lengths)[:, None])


def test_load_rejects_other_files(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ValueError, match="other.pt.*not an ntpipe model"):
        load_model(other)
    rubbish = tmp_path / "random.bin"
    rubbish.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(ValueError, match="random.bin.*not an ntpipe model"):
        load_model(rubbish)
    incomplete = tmp_path / "incomplete.pt"
    torch.save({"format": "ntpipe-model", "version": 1}, incomplete)
    with pytest.raises(ValueError, match="missing model_config, state_dict"):
        load_model(incomplete)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.pt")


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="'colour', 'wings'"):
        from_dict(ModelConfig, {"d_model": 8, "wings": 2, "colour": 1})
    with pytest.raises(ValueError, match="unknown preset"):
        model_config("huge")
    with pytest.raises(ValueError, match="'layers'"):
        model_config("small", layers=3)
    assert model_config("seed").d_model == 512
    assert from_dict(ModelConfig, {"kmers": (7,)}).kmers == [7]


@pytest.mark.parametrize("field, value, expected", [
    ("n_heads", "2", "ModelConfig.n_heads must be an integer, got '2'"),
    ("n_layers", True, "must be an integer, got True"),
    ("dropout", "0.1", "ModelConfig.dropout must be a number"),
    ("kmers", [7, "13"], "ModelConfig.kmers must be a list of integers"),
    ("attn_dropout", "none", "ModelConfig.attn_dropout must be a number"),
    ("kmer_words", True, "ModelConfig.kmer_words must be a list of integers"),  # one size is an int, not a bool
    ("kmer_words", "8", "ModelConfig.kmer_words must be a list of integers"),
])
def test_config_rejects_mistyped_values(field, value, expected):
    with pytest.raises(ValueError, match=expected):
        model_config("small", **{field: value})
    with pytest.raises(ValueError, match=expected):
        from_dict(ModelConfig, {field: value})


@pytest.mark.parametrize("cls, field, value, expected", [
    (ModelConfig, "d_model", 0, "ModelConfig.d_model must be at least 1, got 0"),
    (ModelConfig, "kmers", [7, 0], r"each item of ModelConfig.kmers must be at least 1, got \[7, 0\]"),
    (ModelConfig, "dropout", 1.0, "ModelConfig.dropout must be at least 0 and below 1, got 1.0"),
    (ModelConfig, "gem_p", -1, "ModelConfig.gem_p must be above 0"),
    (ModelConfig, "kmer_linear", 9, "ModelConfig.kmer_linear must be 0 \\(none\\) to 8, got 9"),
    (ModelConfig, "members", 0, "ModelConfig.members must be at least 1, got 0"),
    (ModelConfig, "kmer_words", [6, 9], r"each item of ModelConfig.kmer_words must be 0 \(none\) to 8, got \[6, 9\]"),
    (ModelConfig, "kmer_words", [8, 8], r"ModelConfig.kmer_words must list each size once \(or be 0 for none\), got \[8, 8\]"),
    (ModelConfig, "kmer_words", 9, r"ModelConfig.kmer_words must be 0 \(none\) to 8, got 9"),
    (ModelConfig, "d_model", 30, r"ModelConfig.d_model must be a multiple of n_heads \(\d\), got 30"),
    (TrainConfig, "ema_decay", 1, "TrainConfig.ema_decay must be at least 0 and below 1, got 1$"),
    (TrainConfig, "label_smoothing", -0.1, "TrainConfig.label_smoothing must be at least 0 and below 1"),
    (TrainConfig, "warmup", 0, "TrainConfig.warmup must be at least 1, got 0"),
    (TrainConfig, "negative_ratio", 0, "TrainConfig.negative_ratio must be above 0"),
    (TrainConfig, "eval_size", 1, "TrainConfig.eval_size must be at least 2"),
])
def test_config_rejects_values_out_of_range(cls, field, value, expected):
    preset = model_config if cls is ModelConfig else train_config
    with pytest.raises(ValueError, match=expected):
        preset("small", **{field: value})
    with pytest.raises(ValueError, match=expected):
        from_dict(cls, {field: value})


def test_config_accepts_none_where_a_field_may_be_unset():
    cfg = train_config("small", eval_size=None, epoch_size=None)
    assert cfg.eval_size is None and cfg.epoch_size is None


def test_presets_lie_in_range():
    for preset in PRESETS:
        assert from_dict(ModelConfig, asdict(model_config(preset))) == model_config(preset)
        assert from_dict(TrainConfig, asdict(train_config(preset))) == train_config(preset)


def test_a_gpu_trains_with_the_batch_a_cpu_does_unless_told_otherwise():
    # an epoch counts windows: a larger batch on a GPU would be fewer steps, and the warmup counts steps
    from ntpipe.steps import model_settings
    from ntpipe.train import _configs

    assert train_config("small").cuda_batch_size == train_config("small").batch_size == 32
    chosen = train_config("small", batch_size=16)
    assert chosen.batch_size == chosen.cuda_batch_size == 16
    both = train_config("small", batch_size=16, cuda_batch_size=128)
    assert (both.batch_size, both.cuda_batch_size) == (16, 128)
    # the workflow's training section and a table's --set reach it
    workflow = model_settings({}, {"batch_size": 16, "device": "cuda"})[2]
    table = _configs("small", np.zeros((2, 100), np.uint8), None, None, 0, {"batch_size": 8})[1]
    assert (workflow.cuda_batch_size, table.cuda_batch_size) == (16, 8)
    # --batch-size sets both, and gives way to a --set cuda_batch_size
    flag = _configs("small", np.zeros((2, 100), np.uint8), None, 24, 0)[1]
    flag_and_set = _configs("small", np.zeros((2, 100), np.uint8), None, 24, 0, {"cuda_batch_size": 256})[1]
    assert (flag.batch_size, flag.cuda_batch_size) == (24, 24)
    assert (flag_and_set.batch_size, flag_and_set.cuda_batch_size) == (24, 256)


def test_config_accepts_ints_for_floats():
    cfg = model_config("small", dropout=0, attn_dropout=None)
    assert cfg.dropout == 0.0 and isinstance(cfg.dropout, float) and cfg.attn_dropout is None


def test_max_len():
    model = make(max_len=50)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.randint(0, 5, (1, 60)))


def test_resolve_device(caplog, monkeypatch):
    from ntpipe.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="not a device"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with caplog.at_level("INFO", logger="ntpipe.device"):
        assert resolve_device("auto") == torch.device("cpu")
    assert "no CUDA device visible (CUDA_VISIBLE_DEVICES=): running on CPU" in caplog.text
    with pytest.raises(ValueError, match="no CUDA device is visible"):
        resolve_device("cuda")


@pytest.mark.parametrize("visible", ["", " ", "-1"])
def test_hidden_gpus_are_not_visible_to_the_workflow(monkeypatch, visible):
    from ntpipe.device import nvidia_gpu_visible

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert nvidia_gpu_visible() is False
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    if torch.cuda.is_available():  # a GPU torch sees is one the workflow schedules as a GPU
        assert nvidia_gpu_visible()


def test_min_wavelength_keeps_only_the_long_waves_of_the_positions():
    full, cut = make(d_model=32).pos.pe, make(d_model=32, min_wavelength=200).pos.pe
    wavelength = 2 * np.pi * 10000 ** (np.arange(0, 32, 2) / 32)  # of channel pair j: (2j, 2j + 1)
    kept = np.repeat(wavelength >= 200, 2)
    assert 0 < kept.sum() < 32
    torch.testing.assert_close(cut[:, kept], full[:, kept], atol=0, rtol=0)
    assert (cut[:, ~kept] == 0).all() and (full[:, ~kept] != 0).any()
    # what is left barely moves with a shift of a few bases, unlike the full code, and still with 100
    moved = lambda pe, k: float((pe[k : 2000 + k] - pe[:2000]).norm(dim=1).mean())
    assert moved(cut, 8) < 0.3 and moved(full, 8) > 3.0 and moved(cut, 100) > 1.5


def test_inference_lookup_equals_the_training_forward():
    # eval mode reads cached lookup tables; training builds them afresh under autograd
    torch.manual_seed(0)
    model = NucleicTransformer(model_config("small", dropout=0.0, kmers=[7, 13]))
    tokens = torch.randint(0, 5, (4, 300))
    lengths = torch.tensor([300, 250, 120, 40])
    model.train()
    conv = model(tokens, lengths)
    model.eval()
    lookup = model(tokens, lengths)
    torch.testing.assert_close(lookup, conv, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kmers", [[1], [4], [5, 13], [3, 8, 9]])
def test_kmer_lookup_equals_the_convolution_stage(kmers):
    # groups of 4 kernel positions, and the ragged last group, against Conv1d itself
    torch.manual_seed(1)
    model = NucleicTransformer(model_config("small", dropout=0.0, kmers=kmers, pool=1)).eval()
    tokens = torch.randint(0, 5, (3, 64))
    lengths = torch.tensor([64, 50, 20])
    with torch.inference_mode():
        conv, conv_valid = model.kmer(model.pos(model.embed(tokens)), lengths)
        lookup, lookup_valid = model.kmer.from_tokens(tokens, model.embed.weight, model.pos.pe, lengths)
    torch.testing.assert_close(lookup, conv, rtol=0, atol=2e-5)
    assert torch.equal(lookup_valid, conv_valid)


def test_kmer_lookup_gradients_equal_the_convolution_gradients():
    # training without dropout reads the k-mer convolution through the lookup tables
    torch.manual_seed(2)
    model = NucleicTransformer(model_config("small", dropout=0.0, kmers=[5, 13], pool=4)).train()
    tokens = torch.randint(0, 5, (3, 80))
    lengths = torch.tensor([80, 61, 30])
    weights = torch.randn(3, 2 * (80 // 4), model.cfg.d_model)
    params = [model.embed.weight, *model.kmer.parameters()]
    conv, _ = model.kmer(model.pos(model.embed(tokens)), lengths)
    conv_grads = torch.autograd.grad((conv * weights[:, : conv.size(1)]).sum(), params)
    lookup, _ = model.kmer.from_tokens(tokens, model.embed.weight, model.pos.pe, lengths)
    lookup_grads = torch.autograd.grad((lookup * weights[:, : lookup.size(1)]).sum(), params)
    for a, b in zip(lookup_grads, conv_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert all(g.abs().sum() > 0 for g in conv_grads)
    out = model(tokens, lengths)  # the forward itself takes the lookup in training without dropout
    torch.testing.assert_close(out, model.eval()(tokens, lengths), rtol=1e-4, atol=1e-5)


def test_pooling_keeps_each_stretch_maximum_and_routes_its_gradient_there():
    # pooled token t is the maximum of conv tokens [t*p, (t+1)*p) per channel; a last stretch shorter than p is dropped
    torch.manual_seed(3)
    pool, k, L = 4, 5, 43
    model = NucleicTransformer(model_config("small", dropout=0.0, kmers=[k], pool=pool)).train()
    unpooled = NucleicTransformer(model_config("small", dropout=0.0, kmers=[k], pool=1))
    unpooled.load_state_dict(model.state_dict())
    tokens, lengths = torch.randint(0, 5, (2, L)), torch.tensor([L, 30])
    conv, _ = unpooled.kmer.from_tokens(tokens, unpooled.embed.weight, unpooled.pos.pe, lengths)  # (2, L-k+1, C)
    T = (L - k + 1) // pool
    expected = conv[:, : T * pool].reshape(2, T, pool, -1).amax(dim=2)
    pooled, valid = model.kmer.from_tokens(tokens, model.embed.weight, model.pos.pe, lengths)
    assert pooled.shape == expected.shape == (2, T, model.cfg.d_model)
    torch.testing.assert_close(pooled, expected, rtol=0, atol=0)
    assert valid.tolist() == [[t < T for t in range(T)], [(t + 1) * pool <= 30 - k + 1 for t in range(T)]]
    weights = torch.randn_like(pooled)
    grad = torch.autograd.grad((pooled * weights).sum(), model.embed.weight)[0]
    expected_grad = torch.autograd.grad((expected * weights).sum(), unpooled.embed.weight)[0]
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-6)


def test_mish_by_exp_equals_mish():
    from ntpipe.model import mish_by_exp

    x = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([-1e30, -88.0, 19.99, 20.0, 20.01, 1e30, 0.0])])
    torch.testing.assert_close(mish_by_exp(x), F.mish(x), rtol=1e-6, atol=1e-7)


def _small_eval_model(seed):
    """A fresh small model in eval mode and two random 100 bp sequences."""
    torch.manual_seed(seed)
    return NucleicTransformer(model_config("small", dropout=0.0)).eval(), torch.randint(0, 5, (2, 100))


def test_lookup_tables_follow_the_weights():
    # inference caches the lookup tables; a weight change (in place, or a new load) must rebuild them
    model, tokens = _small_eval_model(2)
    with torch.inference_mode():
        before = model(tokens)
        assert torch.equal(model(tokens), before)  # cached tables, same values
    with torch.no_grad():
        model.kmer.convs[0].weight.mul_(2.0)
    with torch.inference_mode():
        after = model(tokens)
    model.train()
    trained = model(tokens)  # tables built afresh from the new weights
    torch.testing.assert_close(after, trained.detach(), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(after, before)
    model.eval()
    model(tokens).sum().backward()  # autograd on: tables built per call, twice is fine
    model(tokens).sum().backward()


def test_lookup_tables_stay_float32_under_autocast():
    model, tokens = _small_eval_model(3)
    with torch.inference_mode():
        exact = model(tokens)
        model.kmer._lookup = None  # built again, now under autocast
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model(tokens)
    assert all(t.dtype == torch.float32 for t in model.kmer._lookup[1])
    torch.testing.assert_close(mixed.float(), exact, rtol=0, atol=0.1)


def test_zero_init_residual_layers_start_without_attention_and_ffn():
    from ntpipe.config import model_config
    from ntpipe.model import NucleicTransformer

    torch.manual_seed(0)
    model = NucleicTransformer(model_config("small", d_model=16, n_heads=2, d_ff=32, n_layers=2, zero_init_residual=True)).eval()
    tokens = torch.randint(0, 5, (3, 120))
    with torch.no_grad():
        logits = model(tokens)
        for layer in model.layers:  # what attention and the FFN compute does not reach the output yet
            layer.attn.qkv.weight.normal_()
            layer.ffn.fc1.weight.normal_()
        assert torch.allclose(model(tokens), logits, atol=1e-5)
        model.layers[0].ffn.fc2.weight.normal_()  # ... until their output projections learn
        assert not torch.allclose(model(tokens), logits, atol=1e-3)
    plain = NucleicTransformer(model_config("small", d_model=16, n_heads=2, d_ff=32, n_layers=2, zero_init_residual=False))
    assert plain.layers[0].ffn.fc2.weight.abs().sum() > 0


def test_torch_compile_traces_a_full_length_forward_in_one_graph():
    # the lookup tables' cache keys on storage pointers, which dynamo cannot trace: a compiled model builds them
    model = NucleicTransformer(model_config("small")).eval()
    tokens = torch.randint(0, 4, (2, 300), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = model(tokens)
        explained = torch._dynamo.explain(model)(tokens)
        assert explained.graph_break_count == 0 and explained.graph_count == 1
        torch.testing.assert_close(torch.compile(model, backend="eager")(tokens), expected)
