"""Command line: ``python -m therapy_utils run|simulate``; errors are one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from therapy_utils.simulate import PRESETS  # the registry of named populations (numpy and pandas, no torch)

EXAMPLE_COURSES = (("A", "B", "A"), ("C", "D", "C"), ("A", "F", "F"), ("B", "C", "B"), ("Q", "P", "O", "N"))
MODELS = ("original", "best")  # train.NAMED_MODELS's names, kept here so that --help does not import torch


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


MAX_SEQUENCES = 10_000_000  # about 5 GB of simulated courses; more would exhaust a laptop's memory, not fail clearly


def _integer(text: str) -> int:
    """Argument type: an integer, the offending text named otherwise."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _positive_int(text: str) -> int:
    """Argument type: a course count from 1 to :data:`MAX_SEQUENCES`, the offending value named otherwise."""
    value = _integer(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    if value > MAX_SEQUENCES:
        raise argparse.ArgumentTypeError(f"at most {MAX_SEQUENCES:,} courses, got {value:,}")
    return value


def _seed(text: str) -> int:
    """Argument type: a seed numpy and torch both accept (0 to 2**32 - 1)."""
    value = _integer(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed is from 0 to {2**32 - 1}, got {value}")
    return value


def _device(text: str) -> str:
    """Argument type: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, and only a CUDA device this machine has."""
    if text in ("auto", "cpu"):
        return text
    if not re.fullmatch(r"cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; choose auto, cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"device {text!r} is not available: this torch build or machine has no "
                                         "CUDA GPU; use --device cpu or auto")
    index = int(text.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"device {text!r} is not available: this machine has "
                                         f"{torch.cuda.device_count()} CUDA device(s)")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The CLI's grammar; every command has --help."""
    parser = OneLineParser(prog="python -m therapy_utils", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate (or load) courses, train, evaluate, report, plot",
                              description="Do what the original script did, plus the oracle and baseline lines.")
    run.add_argument("--preset", choices=(*PRESETS, "clinic"), default="original",
                     help=f"simulator preset: {', '.join(PRESETS)} (default: original); or clinic: predict reliable "
                          "improvement after every session (notebook 12), with --data a session file as "
                          "simulate --preset clinic writes it")
    run.add_argument("--n-sequences", type=_positive_int, default=500, help="courses to simulate (default: 500)")
    run.add_argument("--seed", type=_seed, default=42, help="seed for simulation and training (default: 42); "
                     "the 64/16/20 split always uses the original's random_state 42")
    run.add_argument("--model", choices=MODELS, default="original",
                     help="original: the script's model, for parity (default); best: the model benchmarks/accuracy.py "
                          "chose on its selection seeds (validation scores only)")
    run.add_argument("--data", type=Path, help="train on this course or long-format CSV instead of simulating")
    run.add_argument("--out", type=Path, default=Path("results"), help="folder for the figures (default: results)")
    run.add_argument("--json", type=Path, help="also write the metrics to this JSON file")
    run.add_argument("--save-model", type=Path, help="save the trained model (state dict + JSON) to this folder")
    run.add_argument("--shuffled", action="store_true",
                     help="also train the same model on courses whose modules are shuffled within each course and "
                          "report its test R² (shuffled_r2): how much the model's accuracy owes to module order")
    run.add_argument("--device", type=_device, default="cpu",
                     help="cpu (default: the published numbers are CPU numbers), auto (CUDA when present), cuda or "
                          "cuda:N; on a GPU the run is not expected to match the original's numbers digit for digit")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sim = commands.add_parser("simulate", help="write simulated courses as a CSV in the reference shape",
                              description="Simulate courses and write them, with the original's split column "
                                          "(scikit-learn, random_state 42).")
    sim.add_argument("--preset", choices=(*PRESETS, "clinic"), default="original",
                     help=f"simulator preset: {', '.join(PRESETS)}, or clinic (routine care with a PHQ-9-like score "
                          "per session, always written one row per session) (default: original)")
    sim.add_argument("--n-sequences", type=_positive_int, default=500,
                     help="courses to simulate; for clinic, patients who start treatment (default: 500)")
    sim.add_argument("--seed", type=_seed, default=42, help="random seed (default: 42)")
    sim.add_argument("--out", type=Path, required=True, help="CSV file to write")
    sim.add_argument("--long", action="store_true", help="write one row per session instead of per course")
    return parser


def command_simulate(args: argparse.Namespace) -> None:
    """Simulate and write a course CSV with the original's train/val/test membership."""
    from therapy_utils.data import assign_split
    from therapy_utils.files import write_courses
    from therapy_utils.simulate import preset_params, simulate_courses

    if args.preset == "clinic":
        write_clinic(args.n_sequences, args.seed, args.out)
        return
    courses = simulate_courses(preset_params(args.preset), args.n_sequences, args.seed)
    write_courses(assign_split(courses), args.out, long=args.long)
    print(f"Wrote {len(courses)} {args.preset} courses to {args.out}")


def write_clinic(n_patients: int, seed: int, out: Path) -> None:
    """The clinic's routine-outcome export: one row per attended session with its module and score, and each
    course's outcome (``reliably_improved``: first minus last recorded score ≥ 6) and ``ended_early`` repeated on its
    rows. The latent columns (responsiveness, true severity, planned sessions) stay out, as a real export has none."""
    from therapy_utils.clinic import CLINIC, course_outcomes, simulate_clinic

    sessions = simulate_clinic(CLINIC, n_patients, seed)
    outcomes = course_outcomes(sessions)
    export = sessions[["course_id", "session", "module", "score"]].assign(
        reliably_improved=sessions["course_id"].map(outcomes["reliably_improved"]).astype(int),
        ended_early=sessions["course_id"].map(outcomes["ended_early"]).astype(int))
    export.to_csv(out, index=False)
    print(f"Wrote {len(export):,} sessions of {n_patients:,} clinic patients to {out}")


def _load_or_simulate(preset: str, n_sequences: int, seed: int, data: Path | None):
    """The course table and, for simulated data, the parameters that know its ground truth."""
    from therapy_utils.files import read_courses
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
    """Do the embeddings recover the true groups, and can a next-module head say what comes next?"""
    from therapy_utils.embeddings import clustering_ari, embedding_table, group_similarity
    from therapy_utils.evaluate import next_module_probabilities, next_module_scores, prefixes_and_next
    from therapy_utils.model import MULTITASK_CONFIG
    from therapy_utils.train import TUTORIAL_TRAIN_CONFIG, fit_new_model
    from therapy_utils.truth import next_module_distribution

    multitask, _ = fit_new_model(parts, vocab, MULTITASK_CONFIG, TUTORIAL_TRAIN_CONFIG, seed, device="cpu",
                                 progress=False)
    groups, table = params.group_of(), embedding_table(multitask, vocab)
    prefixes, following = prefixes_and_next(parts["test"]["modules"])
    scores = next_module_scores(next_module_probabilities(multitask, parts["test"], vocab), following,
                                next_module_distribution(params, prefixes), vocab.modules)
    ari = clustering_ari(table, groups)
    ari_plain = (clustering_ari(embedding_table(effectiveness_model, vocab), groups)
                 if len(effectiveness_model.embedding_layers()) == 1 else None)  # an ensemble has no single table
    nn_same = group_similarity(table, groups)["nn_same_group"]
    print("\nWhat the embeddings tell you (model with a next-module head):")
    print(f"Clusters vs true groups, adjusted Rand index: {ari:.3f} (effectiveness-only model: "
          f"{'n/a' if ari_plain is None else f'{ari_plain:.3f}'})")
    print(f"Nearest neighbour in its own group: {nn_same:.0%} of modules")
    print(f"Next module top-1 / top-3 accuracy: {scores['top1']:.3f} / {scores['top3']:.3f} "
          f"(oracle {scores['top1_oracle']:.3f} / {scores['top3_oracle']:.3f})")
    return {"embedding_ari": ari, "embedding_ari_effectiveness_only": ari_plain, "nn_same_group": nn_same,
            **{f"next_{name}": value for name, value in scores.items()}}


def _explanation_report(parts: dict, vocab, params, seed: int, model) -> dict:
    """Do the explanations point at the motifs, which the simulator says drive the outcome most?"""
    from therapy_utils.evaluate import integrated_gradients, model_scorer, motif_hit, occlusion, removal_checks

    courses, score = list(parts["test"]["modules"]), model_scorer(model.cpu(), vocab)
    gradients = integrated_gradients(model, courses, vocab)
    hit_ig = motif_hit(gradients, courses, params.motifs)
    hit_occlusion = motif_hit([occlusion(score, c) for c in courses], courses, params.motifs)
    checks = removal_checks(score, gradients, courses, k=3, seed=seed)
    print(f"Top-3 attributed positions on a motif (motif_hit3): integrated gradients {hit_ig:.3f}, "
          f"occlusion {hit_occlusion:.3f}")
    known = {name: None if np.isnan(value) else value for name, value in  # no motif-bearing test course: null
             {"motif_hit3": hit_ig, "motif_hit3_occlusion": hit_occlusion}.items()}
    return {**known, **checks}


def _train(courses, parts: dict, seed: int, device: str, progress: bool, model_name: str):
    """A named model trained and tested, with the original's printed report."""
    from therapy_utils.data import Vocabulary
    from therapy_utils.evaluate import predict, regression_metrics
    from therapy_utils.train import NAMED_MODELS, fit_new_model, select_device

    vocab = Vocabulary.from_courses(courses["modules"])
    print(f"Vocabulary size: {len(vocab)}")
    print("\nTraining model..." if model_name == "original" else f"\nTraining the {model_name} model...")
    if select_device(device).type != "cpu":
        print(f"Training on {select_device(device)}: its arithmetic differs from the CPU's, so the numbers are not "
              "expected to match the original's digit for digit (they are CPU numbers).")
    model_config, train_config = _fitted(NAMED_MODELS[model_name], parts)
    model, result = fit_new_model(parts, vocab, model_config, train_config, seed, device=device,
                                  progress=progress, log=print if model_name == "original" else None)
    y_test = parts["test"]["effectiveness"].to_numpy().astype(np.float32)
    predictions = predict(model, parts["test"], vocab)
    metrics = regression_metrics(y_test, predictions)
    print(f"\nTest Results:\nMSE: {metrics['mse']:.4f}\nR² Score: {metrics['r2']:.4f}\nRMSE: {metrics['rmse']:.4f}")
    _print_examples(model, vocab)
    print("\nModel training complete!")
    print("The model can now predict effectiveness for new therapy module sequences.")
    return model.cpu(), vocab, result, y_test, predictions, metrics


def _fitted(configs: tuple, parts: dict, say: bool = True) -> tuple:
    """The named model's configs, its position embeddings lengthened to the longest course of ``--data`` if needed."""
    model_config, train_config = configs
    longest = max(int(part["modules"].map(len).max()) for part in parts.values() if len(part))
    if model_config.positional and longest > model_config.max_length:
        if say:
            print(f"The longest course has {longest} sessions: position embeddings sized to cover it "
                  f"(max_length {model_config.max_length} → {longest}).")
        model_config = replace(model_config, max_length=longest)
    return model_config, train_config


def _shuffled_control(parts: dict, vocab, seed: int, device: str, model_name: str) -> dict:
    """The same model, trained and tested on courses shuffled within each course (seeded by ``seed``)."""
    from therapy_utils.data import shuffle_within_courses
    from therapy_utils.evaluate import predict, regression_metrics
    from therapy_utils.train import NAMED_MODELS, fit_new_model

    shuffled = {name: shuffle_within_courses(part, seed + index) for index, (name, part) in enumerate(parts.items())}
    model, _ = fit_new_model(shuffled, vocab, *_fitted(NAMED_MODELS[model_name], parts, say=False), seed, device=device,
                             progress=False)
    r2 = regression_metrics(shuffled["test"]["effectiveness"].to_numpy(),
                            predict(model, shuffled["test"], vocab))["r2"]
    print(f"Shuffled-order control R² (same model, modules shuffled within each course): {r2:.3f}")
    return {"shuffled_r2": r2}


def _print_yardsticks(params, parts: dict, vocab, y_test: np.ndarray, r2: float) -> dict:
    """What the original could not say: the oracle ceiling and an order-blind baseline."""
    import pandas as pd
    from sklearn.metrics import r2_score

    from therapy_utils.evaluate import count_baseline
    from therapy_utils.truth import expected_effectiveness

    test = parts["test"]
    oracle = None if params is None else float(r2_score(y_test, expected_effectiveness(params, test["modules"])))
    baseline_model = count_baseline(pd.concat([parts["train"], parts["val"]]), vocab.modules)
    baseline = float(r2_score(y_test, baseline_model.predict(test["modules"])))
    print("\nBeyond the original:")
    if oracle is None:
        print("Oracle R² (true expected effectiveness): n/a, real data have no ground truth")
    else:
        print(f"Oracle R² (true expected effectiveness): {oracle:.3f}")
        print(f"Share of the learnable signal captured: {r2 / oracle:.0%}")
    print(f"Order-blind baseline R² (ridge on module counts and length): {baseline:.3f}")
    return {"oracle_r2": oracle, "baseline_r2": baseline}


def _interval_report(params, parts: dict, vocab, model, predictions: np.ndarray) -> dict:
    """The prediction's 90 % split-conformal interval (calibrated on the validation courses) on the test courses:
    how often it held the outcome and, with a simulator, its mean true chance to and the oracle's width."""
    from therapy_utils.evaluate import predict
    from therapy_utils.truth import outcome_distribution
    from therapy_utils.uncertainty import split_conformal

    val, test = parts["val"], parts["test"]
    lower, upper = split_conformal(predict(model, val, vocab), val["effectiveness"].to_numpy(), predictions, 0.9)
    y = test["effectiveness"].to_numpy()
    report = {"coverage_90": float(((y >= lower) & (y <= upper)).mean()), "width_90": float((upper - lower).mean()),
              "true_coverage_90": None, "oracle_width_90": None}
    text = f"90% interval (split conformal, validation courses): {report['coverage_90']:.1%} of test outcomes inside"
    if params is not None:
        distribution = outcome_distribution(params, test["modules"])
        oracle_lower, oracle_upper = distribution.oracle_interval(0.9)
        report |= {"true_coverage_90": float(distribution.coverage(lower, upper).mean()),
                   "oracle_width_90": float((oracle_upper - oracle_lower).mean())}
        text += f", true coverage {report['true_coverage_90']:.1%}"
    text += f", mean width {report['width_90']:.3f}"
    print(text + ("" if params is None else f" (narrowest with 90% true coverage: {report['oracle_width_90']:.3f})"))
    return report


def run_report(preset: str, n_sequences: int, seed: int, data: Path | None, out: Path,
               device: str = "cpu", progress: bool = True, save_model: Path | None = None,
               model_name: str = "original", shuffled: bool = False) -> dict:
    """The original script's run and report, plus the oracle, the baseline and (realistic) the embedding checks."""
    from therapy_utils.checkpoint import save_checkpoint
    from therapy_utils.course.plots import embedding_map_figure, training_figure
    from therapy_utils.data import split_courses
    from therapy_utils.embeddings import embedding_table, most_similar, project_2d

    courses, params = _load_or_simulate(preset, n_sequences, seed, data)
    print(f"Average sequence length: {courses['modules'].map(len).mean():.2f}")
    print(f"Average effectiveness: {courses['effectiveness'].mean():.3f}")
    parts = split_courses(courses)
    model, vocab, result, y_test, predictions, metrics = _train(courses, parts, seed, device, progress, model_name)
    # an ensemble has one embedding table per member, so no single table to show
    embeddings = embedding_table(model, vocab) if len(model.embedding_layers()) == 1 else None
    anchor = "A" if "A" in vocab.modules else vocab.modules[0]
    if embeddings is not None:
        print(f"Modules most similar to {anchor}: {[(m, round(s, 3)) for m, s in most_similar(embeddings, anchor)]}")
    yardsticks = _print_yardsticks(params, parts, vocab, y_test, metrics["r2"])
    intervals = _interval_report(params, parts, vocab, model, predictions)
    groups = params.group_of() if params is not None and params.preset == "realistic" else None
    embedding_report = _embedding_report(parts, vocab, params, seed, model) if groups else {}
    explanations = _explanation_report(parts, vocab, params, seed, model) if groups else {}
    controls = _shuffled_control(parts, vocab, seed, device, model_name) if shuffled else {}
    out.mkdir(parents=True, exist_ok=True)
    training_figure(result.history, y_test, predictions, metrics["r2"]).savefig(out / "training_results.png", dpi=120)
    if embeddings is None:
        print(f"Figure written to {out / 'training_results.png'}")
    else:
        embedding_map_figure(project_2d(embeddings, "tsne", random_state=42), groups).savefig(
            out / "embeddings_2d.png", dpi=120)
        print(f"Figures written to {out / 'training_results.png'} and {out / 'embeddings_2d.png'}")
    if save_model is not None:
        save_checkpoint(model, vocab, save_model)
        print(f"Model saved to {save_model}")
    return {**metrics, **yardsticks, "epochs": result.epochs, "best_epoch": result.best_epoch,
            "train_seconds": result.seconds, "n_train": len(parts["train"]), "n_val": len(parts["val"]),
            "n_test": len(parts["test"]), "preset": None if data else preset, "seed": seed,
            "data": None if data is None else str(data), "model": model_name, **intervals, **embedding_report,
            **explanations, **controls}


def clinic_report(args: argparse.Namespace) -> dict:
    """Session by session (notebook 12): train the sequence model and the baselines on 60 % of the patients and
    print every predictor's AUROC after sessions 1-8 on the 20 % held out, beside the truth's (simulated data)."""
    refused = [flag for flag, used in (("--model", args.model != "original"), ("--shuffled", args.shuffled),
                                       ("--save-model", args.save_model is not None)) if used]
    if refused:
        raise ValueError(f"{refused[0]} does not apply to --preset clinic")
    from therapy_utils.clinic import CLINIC, simulate_clinic
    from therapy_utils.data import Vocabulary
    from therapy_utils.early_warning import compare_predictors
    from therapy_utils.evaluate.by_session import scores_by_session
    from therapy_utils.files import read_sessions
    from therapy_utils.sessions import session_courses

    sessions = read_sessions(args.data) if args.data else simulate_clinic(CLINIC, args.n_sequences, args.seed)
    vocab = Vocabulary.from_courses([sessions["module"]]) if args.data else Vocabulary(CLINIC.flowchart.modules)
    print(f"{'Loaded' if args.data else 'Simulated'} {sessions['course_id'].nunique():,} patients, "
          f"{len(sessions):,} sessions")
    compared = compare_predictors(session_courses(sessions, vocab), len(vocab), args.seed,
                                  None if args.data else CLINIC)
    scores = scores_by_session(compared.chances, compared.test, rules=compared.rules)
    table = scores.pivot(index="predictor", columns="session", values="auroc")
    print(f"AUROC after each session, {len(compared.test)} held-out patients (dropouts: last score)")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    by_k = {name: {int(k): (None if np.isnan(v) else round(float(v), 4)) for k, v in row.items()}
            for name, row in table.iterrows()}
    running = scores[scores["predictor"] == "sequence model"].set_index("session")["running"]
    return {"preset": None if args.data else "clinic", "seed": args.seed, "n_patients": int(sessions["course_id"]
            .nunique()), "n_test": len(compared.test), "running_by_session": {int(k): int(v) for k, v in
            running.items()}, "auroc_by_session": by_k["sequence model"],
            "truth_auroc_by_session": by_k.get("truth"), "baseline_auroc_by_session": {
                name: by_k[name] for name in by_k if name not in ("sequence model", "truth")},
            "data": None if args.data is None else str(args.data)}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for any bad input, with one line on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        _check_output_folders(args)
        if args.command == "simulate":
            command_simulate(args)
        elif args.preset == "clinic":
            metrics = clinic_report(args)
        else:
            metrics = run_report(args.preset, args.n_sequences, args.seed, args.data, args.out,
                                 device=args.device, progress=not args.no_progress, save_model=args.save_model,
                                 model_name=args.model, shuffled=args.shuffled)
        if args.command == "run" and args.json:
            args.json.write_text(json.dumps(metrics, indent=2, default=_json_default) + "\n")
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _check_output_folders(args: argparse.Namespace) -> None:
    """Refuse an output file in a folder that does not exist before any work is done, so nothing is left half-made."""
    files = [args.out] if args.command == "simulate" else [args.json] if args.json else []
    for path in files:
        if not path.parent.is_dir():
            raise FileNotFoundError(f"the folder for {str(path)!r} does not exist")
        if path.is_dir():
            raise IsADirectoryError(f"{str(path)!r} is a folder, not a file")
    if args.command == "run":
        existing = next(p for p in (args.out, *args.out.parents) if p.exists())  # the folder is made as needed
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise NotADirectoryError(f"cannot write the figures to {str(args.out)!r}: {str(existing)!r} is not a "
                                     "writable folder")


def _json_default(value: object) -> object:
    """numpy scalars → plain numbers for json."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
