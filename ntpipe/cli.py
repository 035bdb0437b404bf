"""ntpipe: Nucleic Transformer models of histone marks, and their tracks for a panel of varieties.

The command line parses and wires only; the work lives in the modules.
"""

import argparse
import json
import logging
import signal
import sys
import threading

from .logs import setup_logging

log = logging.getLogger("ntpipe")


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(prog="ntpipe", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="write the synthetic demo panel (genomes, peaks, BAM, VCF, truth, sheets)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", choices=["demo", "test", "panel", "large"], default="demo")
    p.add_argument("--varieties", type=int, default=None, help="number of prediction varieties (default: per scale)")

    p = sub.add_parser("train", help="train a model on a sequence<TAB>label table")
    p.add_argument("--sequences", required=True, help="TSV: sequence<TAB>label (0/1), header optional")
    p.add_argument("--out", required=True, help="output directory for model.pt, metrics.json, history.tsv")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--valid", help="validation table (same format); with neither --valid nor --folds, "
                       "a stratified, seeded 10%% of --sequences is held out for validation")
    group.add_argument("--folds", type=int, help="stratified K-fold cross-validation")
    p.add_argument("--preset", default="small", help="model preset: small or seed")
    p.add_argument("--epochs", type=int, help="maximum epochs (default: the training config's)")
    p.add_argument("--batch-size", type=int, help="windows per training step on any device (default: the preset's; "
                   "--set cuda_batch_size=N gives a GPU its own)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="override a model or training setting of the preset (repeat): --set rc_augment=false "
                   "--set pool=4 --set kmers=[7]; the fields of ntpipe.config.ModelConfig and TrainConfig")

    p = sub.add_parser("evaluate", help="print a model's metrics on a sequence<TAB>label table as JSON")
    p.add_argument("--model", required=True)
    p.add_argument("--sequences", required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=256)

    p = sub.add_parser("predict", help="predict a genome: one bigWig per model")
    p.add_argument("--model", action="append", required=True, help="model.pt (repeat for several marks)")
    p.add_argument("--genome", required=True, help="FASTA (plain or bgzip)")
    p.add_argument("--out", required=True, help="output directory; writes {mark}.bw")
    p.add_argument("--vcf", help="apply this VCF's variants to the genome (tracks on the genome's coordinates)")
    p.add_argument("--sample", help="sample of a multi-sample VCF")
    p.add_argument("--window", type=int, help="window cut around each bin, bp (default: the model's; a model from "
                   "ntpipe train on sequences of several lengths has none)")
    p.add_argument("--stride", type=int, help="bin size, bp (default: the model's; a model from ntpipe train has none)")
    p.add_argument("--batch-size", type=int, help="windows per batch (default: 256 on a GPU, about 64,000 bases on CPU)")
    p.add_argument("--device", default="auto")
    p.add_argument("--reverse-complement", action="store_true", help="average with the reverse strand")
    p.add_argument("--cache", help="window cache directory (predict each distinct window once)")

    p = sub.add_parser("compact-cache", help="merge a window cache's shards (one per prediction job) into one per model, "
                       "so that each later job opens few files; safe while jobs run")
    p.add_argument("cache", help="the cache directory (the workflow's: results/cache)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(argv)
    on_sigterm = signal.getsignal(signal.SIGTERM)
    setup_logging(verbose=args.verbose)  # SIGTERM ends the command through its cleanups: until it returns
    try:
        if args.command == "simulate":
            from .simulate import simulate

            simulate(args.out, seed=args.seed, scale=args.scale, n_varieties=args.varieties)
        elif args.command == "train":
            from .config import parse_settings
            from .train import train_table

            metrics = train_table(
                args.sequences, args.out, valid=args.valid, folds=args.folds, preset=args.preset,
                epochs=args.epochs, batch_size=args.batch_size, device=args.device, seed=args.seed,
                overrides=parse_settings(args.settings),
            )
            print(json.dumps(metrics, indent=2))
        elif args.command == "evaluate":
            from .train import evaluate_table

            print(json.dumps(evaluate_table(args.model, args.sequences, device=args.device, batch_size=args.batch_size), indent=2))
        elif args.command == "predict":
            from .predict import predict_genome

            predict_genome(
                args.model, args.genome, args.out, vcf=args.vcf, sample=args.sample, stride=args.stride, window=args.window,
                batch_size=args.batch_size, device=args.device, reverse_complement=args.reverse_complement,
                cache=args.cache,
            )
        elif args.command == "compact-cache":
            from .cache import compact

            merged = compact(args.cache)
            log.info("window cache %s: %s", args.cache, f"{len(merged)} model(s) merged" if merged else "nothing to merge")
    except (ValueError, OSError) as err:  # bad input, or a path that cannot be read or written: the message names it
        log.error("%s", err)
        return 2
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_sigterm)  # a caller's (a test's) own again
    return 0


if __name__ == "__main__":
    sys.exit(main())
