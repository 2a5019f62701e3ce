"""InfoDiffusion in PyTorch: train, export and check the models the InfoDiffusion Explorer web app runs.

Modules (each runnable as ``python -m infodiff.<module>`` where it has a command line; train/README.md has them all):
    config            schema.json validation shared with src/model/config.ts; TrainConfig, presets, overrides
    model             Encoder + AuxiliaryUNet with the official state_dict names; expected_parameters
    diffusion         schedules, q_sample, DDIM plan / sampling / inversion (the shared conventions)
    rng               seeded draws on any device (drawn on the generator's device, moved to the caller's)
    objective         the InfoDiffusion loss (eps-MSE + 1/T L0 + lambda MMD, KL variants, priors)
    data              FashionMNIST, procedural shapes, image folders, held in memory
    shapes            the procedural shapes scenes with six known factors               (CLI: contact sheet)
    train             the training loop (resume, DDP, EMA, atomic checkpoints)           (CLI)
    webpackage        read/write/validate the web model package (docs/model-format.md)
    export            checkpoint -> web package; build_metadata                         (CLI)
    convert_official  official main-branch checkpoint -> web package                    (CLI)
    sample            prior samples, reconstructions, traversals, interpolations        (CLI)
    metrics           linear probe, DCI, Frechet distance, PSNR
    classifier        the per-data-set classifiers behind the Frechet distance          (CLI)
    itd               -log p(x) by I-MMSE
    evaluate          every metric of a model into one JSON                             (CLI)
    report            runs, packages and metrics -> docs/results.md and its images      (CLI)
    fixture           the tiny fixture package and the golden parity files              (CLI)
"""
