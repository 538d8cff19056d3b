"""``edgeml demo``: the whole flow on bundled data, in one command.

The demo chains every layer the way a user would:

1. generated tabular records with planted PII go through :func:`edgeml.data.minimize`;
2. a DP synthetic copy of the records (MST) is written with its release report, on a
   ledger of its own (the records are other people than the digits);
3. a DP drift baseline of the training inputs is released, then scikit-learn's bundled
   digits train an MLP with DP-SGD, both charged to one :class:`~edgeml.privacy.Ledger`;
4. a membership-inference audit measures what the model leaks about its training set;
5. the model is converted and quantized (int8 by default), calibrated on rows drawn
   from the DP baseline, and compared with the float one on held-out data;
6. a shifted stream of inputs is checked for drift against the DP baseline;
7. a model card with its privacy scope is embedded in the model file;
8. the ``.tflite`` file is loaded with :func:`edgeml.load` (LiteRT) and predicts;
9. a sealed (AES-256-GCM) copy is written, and a tampered copy is shown to be refused.

**What is released.** The top of the output folder holds only what may leave:
``model.tflite`` (weights, quantization parameters, card), its sealed copy and
``model_card.md``, and ``synthetic/`` (the DP synthetic records and the release part of
their report, which leaves out the quality measures computed on the real records). Every
statistic in them is DP and charged to the ledger, or comes
from data declared public (the generated records) or held out (the digits test split);
the card's privacy scope says which, part by part. The budget ``epsilon`` is the
ledger's total: a quarter goes to the drift baseline, the rest to DP-SGD; the int8
ranges are post-processing of the baseline and cost nothing more. Training-side
reports that hold exact statistics of the training data (the audit, the drift report,
the minimized records) and the sealing key go to ``internal/``: they never ship. No
seed reaches the DP noise; ``seed`` fixes the generated data, the split and the audit.

Everything lands in one output folder; :func:`run_demo` returns a :class:`DemoResult`
whose summary is printed by the command. It needs the ``tf`` extra and scikit-learn.

Examples
--------
>>> from edgeml.demo import synthetic_records
>>> records = synthetic_records(5, seed=0)
>>> sorted(records)[:4]
['age', 'collected_at', 'consent', 'email']
>>> len(records["email"])
5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml._io import atomic_write
from edgeml._optional import require
from edgeml.errors import IntegrityError, invalid_argument

__all__ = ["DemoResult", "add_parser", "run_demo", "synthetic_records"]

_log = logging.getLogger("edgeml.demo")

#: The fixed "now" of the demo's records, so retention decisions are reproducible.
DEMO_NOW = dt.datetime(2026, 6, 30, tzinfo=dt.timezone.utc)
_QUANTIZATIONS = ("int8", "float16", "dynamic", "int16x8", "none")
_INTERNAL = "internal"  # training-side files that hold exact statistics: never released
_SYNTHETIC = "synthetic"  # a DP synthetic copy of the records, with its release report
_DELTA = 1e-5
_BASELINE_SHARE = 0.25  # of the total epsilon, for the DP drift baseline
_DRIFT_SHARE = 0.5  # share of drifted features for a dataset-level "drift detected"
_FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dara", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun")
_REGIONS = ("10", "12", "20", "40", "60", "80")
_LAST_NAMES = ("Novak", "Smith", "Garcia", "Okafor", "Larsen", "Kim", "Rossi", "Haddad")


def synthetic_records(n: int, *, seed: int = 0) -> dict[str, list[Any]]:
    """Generate wearable-style records with planted personal data.

    Parameters
    ----------
    n : int
        Number of records.
    seed : int, default 0
        Seed of the generator.

    Returns
    -------
    dict of str to list
        Columns ``user_id``, ``name``, ``email``, ``phone``, ``age``, ``zip``,
        ``heart_rate``, ``steps``, ``notes`` (free text that sometimes contains an e-mail
        address or a phone number), ``consent`` and ``collected_at``.

    Examples
    --------
    >>> records = synthetic_records(3, seed=1)
    >>> all(len(column) == 3 for column in records.values())
    True
    >>> "@" in records["email"][0]
    True
    """
    rng = np.random.default_rng(seed)
    first = rng.choice(_FIRST_NAMES, n)
    last = rng.choice(_LAST_NAMES, n)
    ages = rng.integers(16, 90, n)
    consent_choices = np.array(["training,analytics", "training", "analytics", "withdrawn"])
    consent = consent_choices[rng.choice(4, n, p=[0.55, 0.3, 0.1, 0.05])]
    days_ago = rng.integers(0, 2 * 365, n)
    notes = []
    for i in range(n):
        kind = rng.integers(0, 3)
        if kind == 0:
            notes.append(f"prefers contact at {first[i].lower()}.{last[i].lower()}@example.org")
        elif kind == 1:
            notes.append(f"call back on +44 20 7946 {rng.integers(0, 10_000):04d} after 6pm")
        else:
            notes.append("no remarks")
    return {
        "user_id": [f"U{100_000 + i}" for i in range(n)],
        "name": [f"{a} {b}" for a, b in zip(first, last, strict=True)],
        "email": [
            f"{a.lower()}.{b.lower()}{i}@example.org"
            for i, (a, b) in enumerate(zip(first, last, strict=True))
        ],
        "phone": [f"+4915{rng.integers(10**8, 10**9)}" for _ in range(n)],
        "age": [int(a) for a in ages],
        "zip": [f"{rng.choice(_REGIONS)}{rng.integers(0, 1000):03d}" for _ in range(n)],
        "heart_rate": [round(float(h), 1) for h in rng.normal(72, 9, n)],
        "steps": [int(s) for s in rng.poisson(7000, n)],
        "notes": notes,
        "consent": [str(c) for c in consent],
        "collected_at": [(DEMO_NOW - dt.timedelta(days=int(d))).isoformat() for d in days_ago],
    }


@dataclass(frozen=True)
class DemoResult:
    """What ``edgeml demo`` did: one summary row per step and the files it wrote.

    Attributes
    ----------
    out : pathlib.Path
        The output folder.
    summary : list of tuple
        ``(step, result)`` rows, in the order the steps ran.
    files : dict
        File role -> path, relative to ``out`` (released files at the top, the rest
        under ``internal/``).
    seconds : float
        Wall-clock time of the whole demo.
    """

    out: Path
    summary: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "out": str(self.out),
            "summary": [{"step": s, "result": r} for s, r in self.summary],
            "files": dict(self.files),
            "seconds": self.seconds,
        }

    def to_markdown(self) -> str:
        """Return the summary as a Markdown table."""
        return markdown_table(["step", "result"], self.summary)

    def _repr_html_(self) -> str:
        return html_table(["step", "result"], self.summary, caption=f"edgeml demo in {self.out}")

    def __repr__(self) -> str:
        steps, seconds = len(self.summary), self.seconds
        return f"DemoResult(out={str(self.out)!r}, steps={steps}, seconds={seconds:.1f})"


def _demo_policy() -> Any:
    from edgeml import data

    return data.Policy(
        keep={
            "age": data.bins([0, 18, 30, 45, 65, 120]),
            "zip": data.truncate(2),
            "heart_rate": data.round_to(5),
            "steps": data.round_to(1000),
            "notes": data.redact(),
        },
        pseudonymize=("user_id",),
        quasi_identifiers=("age", "zip"),
        k=5,
        purpose="training",
        consent_column="consent",
        timestamp_column="collected_at",
        retention_days=365,
    )


def _flip_one_bit(blob: bytes, position: int) -> bytes:
    tampered = bytearray(blob)
    tampered[position] ^= 0x01
    return bytes(tampered)


def run_demo(
    out: str | Path = "edgeml-demo",
    *,
    epsilon: float = 3.0,
    quantization: str = "int8",
    seed: int = 0,
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the whole edgeml flow on bundled data and write every artifact to ``out``.

    Parameters
    ----------
    out : str or pathlib.Path, default "edgeml-demo"
        Output folder; created if missing. Files in it with the demo's names are replaced.
    epsilon : float, default 3.0
        The total privacy budget of everything released (delta 1e-5): a quarter for the
        drift baseline, the rest for DP-SGD, composed in one ledger.
    quantization : {"int8", "float16", "dynamic", "int16x8", "none"}, default "int8"
        The conversion mode.
    seed : int, default 0
        Seeds data generation, the split, the weights' initialization and the audit.
        It never reaches the DP noise, which always comes from the operating system's
        CSPRNG (a known seed would let anyone subtract it).
    quick : bool, default False
        Fewer records and epochs (for tests); the flow is the same.
    progress : callable, optional
        Called with one line of text as each step starts and ends.

    Returns
    -------
    DemoResult
        The summary rows and the files written.

    Raises
    ------
    ConfigError
        For an epsilon that is not positive, a negative seed or an unknown quantization
        mode.
    MissingDependencyError
        Without the ``tf`` extra or scikit-learn.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise invalid_argument("run_demo", "epsilon", epsilon, "a positive number", fix="use 3.0")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise invalid_argument("run_demo", "seed", seed, "an integer >= 0", fix="use seed=0")
    if quantization not in _QUANTIZATIONS:
        raise invalid_argument(
            "run_demo", "quantization", quantization, f"one of {', '.join(_QUANTIZATIONS)}"
        )
    say = progress or (lambda line: _log.info("%s", line))
    started = time.perf_counter()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    summary: list[tuple[str, str]] = []
    files: dict[str, str] = {}

    (folder / _INTERNAL).mkdir(exist_ok=True)

    def write(role: str, name: str, content: bytes | str) -> None:
        atomic_write(folder / name, content)
        files[role] = name

    def keep(role: str, name: str, content: bytes | str) -> None:
        """Write a training-side file that holds exact statistics: never released."""
        write(role, f"{_INTERNAL}/{name}", content)

    # 1. Data minimization.
    import edgeml
    from edgeml import data, drift, privacy, security
    from edgeml.card import ModelCard, embed_card
    from edgeml.privacy import Protection

    say("1/9 minimizing generated records with planted PII")
    records = synthetic_records(800 if quick else 3000, seed=seed)
    key = security.derive_subkey(security.generate_key(), purpose="demo pseudonyms")
    table, min_report = data.minimize(records, _demo_policy(), key=bytes(key), now=DEMO_NOW)
    keep(
        "minimization_report",
        "minimization_report.json",
        json.dumps(min_report.to_dict(), indent=2),
    )
    dropped_rows = ", ".join(f"{n} {why}" for why, n in min_report.rows_dropped.items() if n)
    keep("minimized_records", "minimized_records.json", json.dumps(to_jsonable(table)))
    summary.append(
        (
            "minimize",
            f"{min_report.rows_in} -> {min_report.rows_out} rows ({dropped_rows}); "
            f"dropped columns: {', '.join(min_report.columns_dropped)}; "
            f"k-anonymity {min_report.k_achieved}",
        )
    )

    # 2. A DP synthetic copy of the records (MST), on its own ledger: other data.
    from edgeml.data.synthesis import demo_step

    say("2/9 synthesizing a DP copy of the records (MST)")
    # No seed: a seeded generator would make the DP noise reproducible by anyone.
    synthetic, synthesis = demo_step(records, zip_prefixes=_REGIONS, now=DEMO_NOW, seed=None)
    (folder / _SYNTHETIC).mkdir(exist_ok=True)
    write("synthetic_records", f"{_SYNTHETIC}/records.json", json.dumps(to_jsonable(synthetic)))
    write(
        "synthesis_report",
        f"{_SYNTHETIC}/synthesis_report.json",
        json.dumps(synthesis.to_release_dict(), indent=2),
    )
    tree = ", ".join(f"{a}-{b}" for a, b in synthesis.tree)
    summary.append(
        (
            "synthesize",
            f"{synthesis.rows_out} synthetic rows, "
            f"({synthesis.guarantee.epsilon:.3g}, {synthesis.guarantee.delta:g})-DP; tree {tree}",
        )
    )

    # 3. One ledger for everything released: a DP drift baseline, then DP-SGD.
    baseline_epsilon = epsilon * _BASELINE_SHARE
    training_epsilon = epsilon - baseline_epsilon
    say(
        f"3/9 DP drift baseline (epsilon {baseline_epsilon:g}) and DP-SGD on digits "
        f"(epsilon {training_epsilon:g}), one ledger with budget {epsilon:g}"
    )
    tf = require("tensorflow", extra="demo", feature="edgeml demo")
    datasets = require("sklearn.datasets", extra="demo", feature="edgeml demo (bundled digits)")
    selection = require("sklearn.model_selection", extra="demo", feature="edgeml demo")
    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = selection.train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=seed
    )
    ledger = privacy.Ledger(delta=_DELTA, accountant="rdp", budget=float(epsilon))
    # Pixel intensities lie in [0, 1] by construction: public bounds, chosen without the data.
    baseline = privacy.dp_baseline(
        x_train,
        lower=0.0,
        upper=1.0,
        bins=5,
        epsilon=baseline_epsilon,
        delta=_DELTA,
        ledger=ledger,
        name="drift baseline",
    )
    tf.keras.utils.set_random_seed(seed)  # weights' initialization; never the DP noise
    keras = tf.keras
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    epochs = 4 if quick else 10
    batch_size = 128
    privacy.make_private(
        model,
        target_epsilon=training_epsilon,
        delta=_DELTA,
        epochs=epochs,
        batch_size=batch_size,
        num_examples=len(x_train),
        l2_norm_clip=1.0,
        ledger=ledger,
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none"),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, verbose=0)
    guarantee = model.privacy.spent()
    float_accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    keep("privacy_guarantee", "privacy_guarantee.json", json.dumps(guarantee.to_dict(), indent=2))
    keep("ledger", "ledger.json", json.dumps(ledger.to_dict(), indent=2))
    total = ledger.spent()
    summary.append(
        (
            "DP-SGD",
            f"epsilon {guarantee.epsilon:.3g} (delta {guarantee.delta:g}, {guarantee.accountant}), "
            f"test accuracy {float_accuracy:.3f}",
        )
    )
    summary.append(
        (
            "budget",
            f"ledger total epsilon {total.epsilon:.3g} of {epsilon:g} (delta {total.delta:g}): "
            f"drift baseline {baseline_epsilon:.3g} + DP-SGD {guarantee.epsilon:.3g}, "
            "composed by RDP; int8 ranges are post-processing of the baseline (0 more)",
        )
    )

    # 4. Membership-inference audit.
    say("4/9 auditing membership inference")
    audit = privacy.audit(model, (x_train, y_train), (x_test, y_test), seed=seed)
    keep("audit", "audit.json", json.dumps(audit.to_dict(), indent=2))
    summary.append(("audit", f"best attack AUC {audit.auc:.3f}, advantage {audit.advantage:.3f}"))

    # 5. Conversion.
    mode: Any = None if quantization == "none" else quantization
    say(f"5/9 converting to .tflite ({quantization})")
    calibration = baseline.sample(200, seed=seed) if mode in ("int8", "int16x8") else None
    tflite = edgeml.convert(model, quantization=mode, representative_data=calibration)
    comparison = edgeml.conversion.compare(model, tflite, x_test, y_test)
    keep(
        "conversion_report", "conversion_report.json", json.dumps(tflite.report.to_dict(), indent=2)
    )
    summary.append(
        (
            "convert",
            f"{quantization}: {tflite.report.bytes:,} bytes, accuracy float "
            f"{comparison.reference:.3f} vs converted {comparison.converted:.3f}",
        )
    )

    # 6. A shifted stream against the DP baseline (what a device would do with the card's).
    say("6/9 checking a shifted input stream for drift against the DP baseline")
    rng = np.random.default_rng(seed)
    shifted = np.clip(x_test * 0.7 + 0.25 + rng.normal(0, 0.05, x_test.shape), 0, 1)
    reference = baseline.histogram
    shifted_results = drift.psi(reference, reference.empty().update(shifted))
    held_out_results = drift.psi(reference, reference.empty().update(x_test))
    shifted_share = float(np.mean([r.drifted for r in shifted_results]))
    held_out_share = float(np.mean([r.drifted for r in held_out_results]))
    keep(
        "drift_report",
        "drift_report.json",
        json.dumps({"psi": [r.to_dict() for r in shifted_results]}, indent=2),
    )

    def verdict(share: float) -> str:
        return "detected" if share >= _DRIFT_SHARE else "not detected"

    summary.append(
        (
            "drift",
            f"shifted stream: drift {verdict(shifted_share)} ({shifted_share:.0%} of features); "
            f"held-out data: {verdict(held_out_share)} ({held_out_share:.0%})",
        )
    )

    # 7. Model card embedded in the model, then run it with LiteRT.
    say("7/9 embedding the model card")
    card = ModelCard.build(
        "edgeml-demo-digits",
        version=edgeml.__version__,
        owner="edgeml demo",
        intended_use="A demonstration of the edgeml flow on scikit-learn's digits only.",
        limitations="Trained on 8x8 digit images only; small model; synthetic tabular data.",
        data=min_report,
        privacy=guarantee,
        conversion=tflite.report,
        evaluation=comparison,
        drift_baseline=baseline,
        protections={
            "minimization_report": Protection.public(
                "the demo's generated records: synthetic, reproducible from the demo's seed"
            ),
            "evaluation": Protection.held_out("scikit-learn digits test split (20%)"),
        },
        ledger=ledger,
    )
    model_bytes = embed_card(tflite, card)
    write("model", "model.tflite", model_bytes)
    card_bytes = len(model_bytes) - tflite.report.bytes
    summary.append(
        (
            "model file",
            f"{len(model_bytes):,} bytes: the {quantization} model {tflite.report.bytes:,} + "
            f"its compressed card {card_bytes:,}",
        )
    )
    write("model_card", "model_card.md", card.to_markdown())
    scope = card.privacy_scope or {}
    summary.append(
        (
            "privacy scope",
            ", ".join(f"{k}: {v['protection']}" for k, v in scope.get("parts", {}).items())
            + f" (covered: {'yes' if scope.get('covered') else 'NO'})",
        )
    )

    say("8/9 loading the model with LiteRT and predicting")
    edge_model = edgeml.load(folder / "model.tflite")
    edge_accuracy = float(np.mean(np.argmax(edge_model.predict(x_test), axis=1) == y_test))
    card_back = edge_model.card
    summary.append(
        (
            "run (LiteRT)",
            f"accuracy {edge_accuracy:.3f} on {len(x_test)} held-out digits; card inside: "
            f"{'yes' if card_back is not None else 'no'}",
        )
    )

    # 9. Sealed copy bound to the card; a tampered copy must be refused.
    say("9/9 sealing the model")
    seal_key = security.generate_key()
    sealed = security.seal(model_bytes, seal_key, associated_data=card.hash)
    write("sealed_model", "model.tflite.sealed", sealed)
    security.save_key(folder / _INTERNAL / "demo.key", seal_key, overwrite=True)
    files["seal_key"] = f"{_INTERNAL}/demo.key"
    try:
        security.unseal(
            _flip_one_bit(sealed, len(sealed) // 2), seal_key, associated_data=card.hash
        )
        refused = False
    except IntegrityError:
        refused = True
    summary.append(
        (
            "seal",
            f"AES-256-GCM, {len(sealed):,} bytes; "
            f"tampered copy refused: {'yes' if refused else 'NO'}",
        )
    )

    final = DemoResult(
        out=folder, summary=summary, files=files, seconds=time.perf_counter() - started
    )
    atomic_write(folder / _INTERNAL / "summary.json", json.dumps(final.to_dict(), indent=2))
    return final


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``edgeml demo`` on the ``edgeml`` command's subparsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``edgeml`` command's subparsers.

    Returns
    -------
    argparse.ArgumentParser
        The ``demo`` parser.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the whole flow on bundled data (minimize, DP-SGD, convert, run, drift, card)",
        description="Run the whole edgeml flow on bundled data and write every artifact to --out.",
    )
    parser.add_argument(
        "--out", default="edgeml-demo", help="output folder (default: ./edgeml-demo)"
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=3.0,
        help="total privacy budget of what is released (default: 3)",
    )
    parser.add_argument(
        "--quantization", choices=_QUANTIZATIONS, default="int8", help="conversion mode"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for data, split and audit (never the DP noise)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer records and epochs (for tests)")
    parser.set_defaults(func=_main)
    return parser


def _main(args: argparse.Namespace) -> int:
    result = run_demo(
        args.out,
        epsilon=args.epsilon,
        quantization=args.quantization,
        seed=args.seed,
        quick=args.quick,
        progress=lambda line: print(line, flush=True),
    )
    print()
    print(result.to_markdown())
    print(f"\nfinished in {result.seconds:.1f} s; files in {result.out}/")
    return 0
