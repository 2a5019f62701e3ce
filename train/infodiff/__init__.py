"""InfoDiffusion in PyTorch: train, export and check the models the InfoDiffusion Explorer web app runs.

Modules (each runnable as ``python -m infodiff.<module>`` where it has a command line):
    config       schema.json validation shared with src/model/config.ts; TrainConfig, presets, overrides
    model        Encoder + AuxiliaryUNet with the official state_dict names; expected_parameters
    diffusion    schedules, q_sample, DDIM plan / sampling / inversion (the shared conventions)
    objective    the InfoDiffusion loss (eps-MSE + 1/T L0 + lambda MMD, KL variants, priors)
    data         FashionMNIST, procedural shapes, image folders, held in memory
    train        the training loop (resume, DDP, EMA, atomic checkpoints)
    webpackage   read/write/validate the web model package (docs/model-format.md)
    export       checkpoint -> web package with latent statistics, directions, reference, gallery
    fixture      the tiny fixture package and the golden parity files
"""
