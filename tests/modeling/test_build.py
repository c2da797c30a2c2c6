"""Model building: SimCSE's poolers on BERT and RoBERTa, the train-only head, offline packaged models."""

from __future__ import annotations

import pytest
import torch

from fmicl_text.errors import FmiclError
from fmicl_text.modeling import ModelConfig, build_model, resolve_model_path, strip_train_only_modules
from fmicl_text.modeling.modules import TrainOnlyDense


def _hidden_states(model, sentences):
    transformer = model[0]
    features = model.preprocess(sentences)
    with torch.no_grad():
        out = transformer.auto_model(
            input_ids=features["input_ids"], attention_mask=features["attention_mask"], output_hidden_states=True
        )
    return out.hidden_states, features["attention_mask"]


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_roberta"])
@pytest.mark.parametrize("pooling", ["cls_before_pooler", "mean", "avg_first_last"])
def test_poolers_match_simcse_definitions(request, encoder, pooling):
    model = build_model(ModelConfig(request.getfixturevalue(encoder), pooling=pooling)).eval()
    sentences = ["A man is playing a guitar.", "The cat sits."]
    hidden, mask = _hidden_states(model, sentences)
    m = mask.unsqueeze(-1).float()
    expected = {
        "cls_before_pooler": hidden[-1][:, 0],
        "mean": (hidden[-1] * m).sum(1) / m.sum(1),
        "avg_first_last": ((hidden[1] + hidden[-1]) / 2 * m).sum(1) / m.sum(1),
    }[pooling]
    got = model.encode(sentences, convert_to_tensor=True)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_cls_head_used_in_training_only(tiny_bert, tmp_path):
    model = build_model(ModelConfig(tiny_bert, pooling="cls", mlp_only_train=True))
    assert isinstance(model[-1], TrainOnlyDense)
    features = model.preprocess(["A man is playing a guitar."])
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        train_vec = model(dict(features))["sentence_embedding"]
    assert train_vec.abs().max() <= 1.0  # tanh head applied
    model.eval()
    eval_vec = model.encode(["A man is playing a guitar."], convert_to_tensor=True)
    hidden, _ = _hidden_states(model, ["A man is playing a guitar."])
    torch.testing.assert_close(eval_vec, hidden[-1][:, 0], atol=1e-5, rtol=1e-4)
    assert strip_train_only_modules(model) == 1
    model.save(str(tmp_path / "saved"))
    from sentence_transformers import SentenceTransformer

    loaded = SentenceTransformer(str(tmp_path / "saved"))
    assert not any(isinstance(m, TrainOnlyDense) for m in loaded)
    torch.testing.assert_close(loaded.encode(["A man is playing a guitar."], convert_to_tensor=True), eval_vec)


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_a_projection_head_shapes_training_only_and_is_not_saved(layers, tiny_bert, tmp_path):
    model = build_model(ModelConfig(tiny_bert, pooling="cls", projection_layers=layers))
    heads = [m for m in model if isinstance(m, TrainOnlyDense)]
    assert len(heads) == layers  # 0: not even SimCSE's cls MLP
    assert [type(h.activation_function).__name__ for h in heads] == ["ReLU"] * (layers - 1) + ["Identity"] * (
        layers > 0
    )
    sentence = ["A man is playing a guitar."]
    model.eval()
    eval_vec = model.encode(sentence, convert_to_tensor=True)
    hidden, _ = _hidden_states(model, sentence)
    torch.testing.assert_close(eval_vec, hidden[-1][:, 0], atol=1e-5, rtol=1e-4)  # the pooled vector itself
    model.train()
    with torch.no_grad():
        train_vec = model(dict(model.preprocess(sentence)))["sentence_embedding"]
    if layers:
        assert not torch.allclose(train_vec, eval_vec, atol=1e-3)  # training sees the head's output
    assert strip_train_only_modules(model) == layers
    model.save(str(tmp_path / "saved"))
    from sentence_transformers import SentenceTransformer

    loaded = SentenceTransformer(str(tmp_path / "saved"))
    assert not any(isinstance(m, TrainOnlyDense) for m in loaded)


def test_cls_with_kept_head_and_dropout_override(tiny_bert):
    model = build_model(ModelConfig(tiny_bert, pooling="cls", mlp_only_train=False, dropout=0.0))
    assert type(model[-1]).__name__ == "Dense"
    assert model[0].auto_model.config.hidden_dropout_prob == 0.0
    model.train()
    features = model.preprocess(["two views", "two views"])
    out = model(dict(features))["sentence_embedding"]
    torch.testing.assert_close(out[0], out[1])  # no dropout: identical views


def test_bad_config_errors(tiny_bert, tmp_path):
    with pytest.raises(FmiclError, match="did you mean 'mean'"):
        build_model(ModelConfig(tiny_bert, pooling="meen"))
    with pytest.raises(FmiclError, match="dropout"):
        build_model(ModelConfig(tiny_bert, dropout=1.5))
    with pytest.raises(FmiclError, match="projection_layers must be a whole number"):
        build_model(ModelConfig(tiny_bert, projection_layers=-1))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FmiclError, match="no weights"):
        build_model(ModelConfig(str(tmp_path / "empty")))
    with pytest.raises(FmiclError, match="model folder not found"):
        build_model(ModelConfig(str(tmp_path / "not-a-model-name")))
    with pytest.raises(FmiclError, match="cannot load the encoder"):
        build_model(ModelConfig("no-such-org/no-such-model"))  # a Hub name: offline, so not in the cache


def test_weights_are_safetensors_unless_pickle_is_allowed(tiny_bert, tmp_path):
    """A folder with only pickled weights is refused (unpickling runs code) unless the user opts in."""
    import shutil

    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_bert, folder)
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    before = (folder / "pytorch_model.bin").read_bytes()
    with pytest.raises(FmiclError, match="pickled weights only") as info:
        build_model(ModelConfig(str(folder), pooling="mean"))
    assert "--allow-pickle" in str(info.value)
    assert (folder / "pytorch_model.bin").read_bytes() == before
    model = build_model(ModelConfig(str(folder), pooling="mean", allow_pickle=True))
    loaded = model[0].auto_model.embeddings.word_embeddings.weight
    torch.testing.assert_close(loaded, weights["embeddings.word_embeddings.weight"])


def test_packaged_minilm_resolves_offline(minilm_path):
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == minilm_path
    assert resolve_model_path("some-org/not-packaged") == "some-org/not-packaged"


def test_a_sentence_transformers_base_keeps_its_max_length_in_the_saved_model(minilm_path, tiny_bert, tmp_path):
    from sentence_transformers import SentenceTransformer

    model = build_model(ModelConfig(minilm_path))
    assert model.max_seq_length == 256  # all-MiniLM-L6-v2's sentence_bert_config.json, not its tokenizer's 512
    strip_train_only_modules(model)  # as training does before it saves
    model.save(str(tmp_path / "saved"))
    assert SentenceTransformer(str(tmp_path / "saved")).max_seq_length == 256
    assert build_model(ModelConfig(tiny_bert)).max_seq_length == 128  # a plain encoder: its tokenizer's length
