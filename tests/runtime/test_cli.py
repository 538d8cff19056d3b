"""`edgeml inspect` and `edgeml bench`, through edgeml.cli.main and one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeml.card import ModelCard, embed_card
from edgeml.cli import main
from edgeml.modelfile import CARD_ENTRY, list_metadata, with_edgeml_entry

pytest.importorskip("ai_edge_litert.interpreter")
pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def sealed_file(models: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    card = ModelCard.build(
        "cli-model",
        owner="cli test",
        privacy={"epsilon": 2.5, "delta": 1e-5, "accountant": "rdp"},
        conversion={"mode": "int8", "io": "int8"},
    )
    content = with_edgeml_entry(embed_card(models["mlp_int8"], card), {"edgeml_version": "test"})
    path = tmp_path_factory.mktemp("cli") / "sealed.tflite"
    path.write_bytes(content)
    return path


def test_inspect_text(sealed_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(sealed_file)]) == 0
    text = capsys.readouterr().out
    assert "sealed.tflite" in text
    assert f"{sealed_file.stat().st_size:,} bytes" in text
    assert "integrity: verified" in text
    assert "FULLY_CONNECTED x2" in text
    assert "input  keras_tensor" in text
    assert "zero_point=" in text
    assert "model_card" in text
    assert "min_runtime_version" in text
    # The card: a short summary by default, its bytes reported on their own.
    card_bytes = list_metadata(sealed_file)[CARD_ENTRY]
    assert f"{card_bytes:,} of them the model card" in text
    assert "model card: cli-model (owner: cli test)" in text
    assert "privacy: epsilon 2.5, delta 1e-05, accountant rdp" in text
    assert "quantization: int8" in text
    assert "# Model card" not in text


def test_inspect_card_prints_the_full_card(
    sealed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(sealed_file), "--card"]) == 0
    text = capsys.readouterr().out
    assert "# Model card: cli-model" in text


def test_inspect_json(
    sealed_file: Path, models: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(sealed_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["size"] == sealed_file.stat().st_size
    assert report["integrity"]["status"] == "verified"
    assert report["op_counts"] == {"FULLY_CONNECTED": 2}
    assert report["metadata"][CARD_ENTRY]["owner"] == "cli test"
    assert report["card_bytes"] == list_metadata(sealed_file)[CARD_ENTRY] > 0
    (signature,) = report["signatures"].values()
    assert signature["inputs"][0]["dtype"] == "int8"
    # Reference: the interpreter's own tensor details.
    from collections import Counter

    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_content=sealed_file.read_bytes()).get_tensor_details()
    assert report["tensor_types"] == dict(Counter(np.dtype(d["dtype"]).name for d in details))


def test_inspect_reports_corrupted_weights_and_exits_1(
    sealed_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ai_edge_litert.tools import flatbuffer_utils

    content = bytearray(sealed_file.read_bytes())
    obj = flatbuffer_utils.read_model_from_bytearray(bytes(content))
    metadata = {m.buffer for m in obj.metadata}
    weights = max(
        (
            np.asarray(b.data, np.uint8).tobytes()
            for i, b in enumerate(obj.buffers)
            if b.data is not None and i not in metadata
        ),
        key=len,
    )
    content[bytes(content).find(weights) + 3] ^= 0x04
    corrupted = tmp_path / "corrupted.tflite"
    corrupted.write_bytes(bytes(content))
    assert main(["inspect", str(corrupted)]) == 1
    assert "integrity: mismatch" in capsys.readouterr().out


def test_inspect_a_non_model_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    assert main(["inspect", str(bad)]) == 1
    assert "edgeml: error:" in capsys.readouterr().err


def test_bench_text_and_json(sealed_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(sealed_file), "--runs", "20", "--warmup", "2"]) == 0
    text = capsys.readouterr().out
    for label in ("latency p50", "latency p99", "throughput", "peak RSS"):
        assert label in text
    argv = ["bench", str(sealed_file), "--runs", "20", "--batch-size", "4", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batch_size"] == 4
    assert report["runs"] == 20
    assert report["num_threads"] == 1
    assert report["p50_ms"] <= report["p99_ms"]


def test_bench_rejects_bad_numbers(sealed_file: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", str(sealed_file), "--runs", "0"])
    assert info.value.code == 2


def test_bench_refuses_a_huge_batch_in_one_line(
    sealed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", str(sealed_file), "--batch-size", "100000000"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "'batch_size'" in err[0]
    assert "1 GiB" in err[0]


def test_inspect_runs_as_a_command_without_tensorflow(sealed_file: Path) -> None:
    code = (
        "import sys\n"
        "from edgeml.cli import main\n"
        f"code = main(['inspect', {str(sealed_file)!r}, '--json'])\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["integrity"]["status"] == "verified"
    assert "HEAVY []" in result.stderr
