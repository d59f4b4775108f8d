"""Command line: ``python -m therapy_utils run|simulate``; errors are one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

EXAMPLE_COURSES = (("A", "B", "A"), ("C", "D", "C"), ("A", "F", "F"), ("B", "C", "B"), ("Q", "P", "O", "N"))
PRESETS = ("original", "realistic")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    """Argument type: reject zero and negatives with the offending value named."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The CLI's grammar; every command has --help."""
    parser = OneLineParser(prog="python -m therapy_utils", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate (or load) courses, train, evaluate, report, plot",
                              description="Do what the original script did, plus the oracle and baseline lines.")
    run.add_argument("--preset", choices=PRESETS, default="original", help="simulator preset (default: original)")
    run.add_argument("--n-sequences", type=_positive_int, default=500, help="courses to simulate (default: 500)")
    run.add_argument("--seed", type=int, default=42, help="seed for simulation, split and training (default: 42)")
    run.add_argument("--data", type=Path, help="train on this course or long-format CSV instead of simulating")
    run.add_argument("--out", type=Path, default=Path("results"), help="folder for the figures (default: results)")
    run.add_argument("--json", type=Path, help="also write the metrics to this JSON file")
    run.add_argument("--save-model", type=Path, help="save the trained model (state dict + JSON) to this folder")
    run.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda (default: auto)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sim = commands.add_parser("simulate", help="write simulated courses as a CSV in the reference shape",
                              description="Simulate courses and write them, with the original's split column.")
    sim.add_argument("--preset", choices=PRESETS, default="original", help="simulator preset (default: original)")
    sim.add_argument("--n-sequences", type=_positive_int, default=500, help="courses to simulate (default: 500)")
    sim.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    sim.add_argument("--out", type=Path, required=True, help="CSV file to write")
    sim.add_argument("--long", action="store_true", help="write one row per session instead of per course")
    return parser


def command_simulate(args: argparse.Namespace) -> None:
    """Simulate and write a course CSV with the original's train/val/test membership."""
    from therapy_utils.data import assign_split, write_courses
    from therapy_utils.simulate import preset_params, simulate_courses

    courses = simulate_courses(preset_params(args.preset), args.n_sequences, args.seed)
    write_courses(assign_split(courses, random_state=args.seed), args.out, long=args.long)
    print(f"Wrote {len(courses)} {args.preset} courses to {args.out}")


def _load_or_simulate(preset: str, n_sequences: int, seed: int, data: Path | None):
    """The course table and, for simulated data, the parameters that know its ground truth."""
    from therapy_utils.data import read_courses
    from therapy_utils.simulate import preset_params, simulate_courses

    if data is not None:
        courses = read_courses(data)
        print(f"Loaded {len(courses)} courses from {data}")
        return courses, None
    print("Generating synthetic therapy sequence data...")
    params = preset_params(preset)
    courses = simulate_courses(params, n_sequences, seed)
    print(f"Generated {len(courses)} sequences")
    return courses, params


def _print_examples(model, vocab) -> None:
    """The original's five example predictions, for the examples the vocabulary can encode."""
    from therapy_utils.evaluate import predict

    print("\nExample subsequence predictions:")
    for course in EXAMPLE_COURSES:
        if not set(course) <= set(vocab.modules):
            print(f"Sequence {' → '.join(course)}: not predicted (module(s) not in the data)")
            continue
        prediction = predict(model, [course], vocab, batch_size=1)[0]
        print(f"Sequence {' → '.join(course)}: Predicted effectiveness = {prediction:.3f}")


def _embedding_report(parts: dict, vocab, params, seed: int, effectiveness_model) -> dict:
    """Issue-5 numbers: do the embeddings recover the true groups, and can the model say what comes next?"""
    import torch

    from therapy_utils.embeddings import clustering_ari, embedding_table, group_similarity
    from therapy_utils.evaluate import next_module_probabilities, next_module_scores, prefixes_and_next
    from therapy_utils.model import MULTITASK_CONFIG, build_model
    from therapy_utils.simulate import next_module_distribution
    from therapy_utils.train import TrainConfig, train_model

    generator = torch.Generator().manual_seed(seed)
    multitask = build_model(len(vocab), MULTITASK_CONFIG, generator)
    train_model(multitask, parts["train"], parts["val"], vocab, TrainConfig(batch_size=32, restore_best=True),
                generator, device="cpu", progress=False)
    groups = params.group_of()
    table = embedding_table(multitask, vocab)
    prefixes, following = prefixes_and_next(parts["test"]["modules"])
    scores = next_module_scores(next_module_probabilities(multitask, parts["test"], vocab), following,
                                next_module_distribution(params, prefixes), vocab.modules)
    report = {"embedding_ari": clustering_ari(table, groups), "nn_same_group": group_similarity(table, groups)[
        "nn_same_group"], "embedding_ari_effectiveness_only": clustering_ari(
        embedding_table(effectiveness_model, vocab), groups), **{f"next_{k}": v for k, v in scores.items()}}
    print("\nWhat the embeddings tell you (model with a next-module head):")
    print(f"Clusters vs true groups, adjusted Rand index: {report['embedding_ari']:.3f} "
          f"(effectiveness-only model: {report['embedding_ari_effectiveness_only']:.3f})")
    print(f"Nearest neighbour in its own group: {report['nn_same_group']:.0%} of modules")
    print(f"Next module top-1 / top-3 accuracy: {scores['top1']:.3f} / {scores['top3']:.3f} "
          f"(oracle {scores['top1_oracle']:.3f} / {scores['top3_oracle']:.3f})")
    return report


def run_report(preset: str, n_sequences: int, seed: int, data: Path | None, out: Path,
               device: str = "auto", progress: bool = True, save_model: Path | None = None) -> dict:
    """The original script's run and report, plus the oracle and the order-blind baseline."""
    import pandas as pd
    import torch

    from therapy_utils.data import Vocabulary, split_courses
    from therapy_utils.embeddings import embedding_table, most_similar, project_2d
    from therapy_utils.evaluate import count_baseline, predict, regression_metrics
    from therapy_utils.model import ModelConfig, build_model, save_checkpoint
    from therapy_utils.plots import embedding_map_figure, training_figure
    from therapy_utils.simulate import expected_effectiveness
    from therapy_utils.train import TrainConfig, train_model

    courses, params = _load_or_simulate(preset, n_sequences, seed, data)
    print(f"Average sequence length: {courses['modules'].map(len).mean():.2f}")
    print(f"Average effectiveness: {courses['effectiveness'].mean():.3f}")
    vocab = Vocabulary.from_courses(courses["modules"])
    print(f"Vocabulary size: {len(vocab)}")
    parts = split_courses(courses, random_state=42 if data is not None else seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_model(len(vocab), ModelConfig(), generator)
    print("\nTraining model...")
    result = train_model(model, parts["train"], parts["val"], vocab, TrainConfig(), generator,
                         device=device, progress=progress, log=print)
    test = parts["test"]
    y_test = test["effectiveness"].to_numpy().astype(np.float32)
    predictions = predict(model, test, vocab)
    metrics = regression_metrics(y_test, predictions)
    print(f"\nTest Results:\nMSE: {metrics['mse']:.4f}\nR² Score: {metrics['r2']:.4f}\nRMSE: {metrics['rmse']:.4f}")
    _print_examples(model, vocab)
    print("\nModel training complete!")
    print("The model can now predict effectiveness for new therapy module sequences.")
    embeddings = embedding_table(model.cpu(), vocab)
    anchor = "A" if "A" in vocab.modules else vocab.modules[0]
    similar = [(m, round(s, 3)) for m, s in most_similar(embeddings, anchor)]
    print(f"Modules most similar to {anchor}: {similar}")
    from sklearn.metrics import r2_score

    oracle = None if params is None else float(r2_score(y_test, expected_effectiveness(params, test["modules"])))
    baseline_model = count_baseline(pd.concat([parts["train"], parts["val"]]), vocab.modules)
    baseline = float(r2_score(y_test, baseline_model.predict(test["modules"])))
    print("\nBeyond the original:")
    if oracle is None:
        print("Oracle R² (true expected effectiveness): n/a, real data have no ground truth")
    else:
        print(f"Oracle R² (true expected effectiveness): {oracle:.3f}")
        print(f"Share of the learnable signal captured: {metrics['r2'] / oracle:.0%}")
    print(f"Order-blind baseline R² (ridge on module counts and length): {baseline:.3f}")
    realistic = params is not None and params.preset == "realistic"
    embedding_report = _embedding_report(parts, vocab, params, seed, model) if realistic else {}
    out.mkdir(parents=True, exist_ok=True)
    training_figure(result.history, y_test, predictions, metrics["r2"]).savefig(out / "training_results.png", dpi=120)
    groups = params.group_of() if params is not None and params.preset == "realistic" else None
    coords = project_2d(embeddings, "tsne", random_state=42)
    embedding_map_figure(coords, groups).savefig(out / "embeddings_2d.png", dpi=120)
    print(f"Figures written to {out / 'training_results.png'} and {out / 'embeddings_2d.png'}")
    if save_model is not None:
        save_checkpoint(model, vocab, save_model)
        print(f"Model saved to {save_model}")
    return {**metrics, "oracle_r2": oracle, "baseline_r2": baseline, "epochs": result.epochs,
            "best_epoch": result.best_epoch, "train_seconds": result.seconds, "n_train": len(parts["train"]),
            "n_val": len(parts["val"]), "n_test": len(test), "preset": None if data else preset,
            "seed": seed, "data": None if data is None else str(data), **embedding_report}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for any bad input, with one line on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "simulate":
            command_simulate(args)
        else:
            metrics = run_report(args.preset, args.n_sequences, args.seed, args.data, args.out,
                                 device=args.device, progress=not args.no_progress, save_model=args.save_model)
            if args.json:
                args.json.write_text(json.dumps(metrics, indent=2, default=_json_default) + "\n")
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _json_default(value: object) -> object:
    """numpy scalars → plain numbers for json."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
