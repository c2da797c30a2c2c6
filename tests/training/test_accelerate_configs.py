"""The ``recipes/accelerate/`` configs: each loads with accelerate's own reader, says how to launch it,
leaves the precision to fmicl-text, and is named in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {
    "single-gpu": "NO",
    "multi-gpu": "MULTI_GPU",
    "multi-node": "MULTI_GPU",
    "deepspeed-zero2": "DEEPSPEED",
    "fsdp": "FSDP",
}


def test_every_config_file_is_listed():
    assert sorted(p.stem for p in (ROOT / "recipes" / "accelerate").glob("*.yaml")) == sorted(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_loads_with_accelerate_and_says_how_to_launch(name):
    from accelerate.commands.config.config_args import load_config_from_file

    path = ROOT / "recipes" / "accelerate" / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert config.distributed_type.value == CONFIGS[name]
    assert config.mixed_precision == "no"  # transformers' bf16/fp16 flags, set from --precision, decide
    assert not config.use_cpu
    assert "accelerate launch --config_file recipes/accelerate/" in path.read_text(encoding="utf-8")
    assert f"recipes/accelerate/{name}.yaml" in (ROOT / "README.md").read_text(encoding="utf-8")
    if name == "multi-node":
        assert config.num_machines > 1 and config.main_process_port
    if name == "fsdp":
        import transformers.models.bert.modeling_bert as bert

        assert hasattr(bert, config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"])
    if name == "deepspeed-zero2":
        assert config.deepspeed_config["zero_stage"] == 2
