"""Training: single-task, multitask pretraining, few-shot transfer, linear probe, fine-tuning.

``climb train CONFIG.yaml [key=value ...]`` (see :mod:`climb.train.runner`); Lightning runs the
loop, so the same config trains on one CPU, several GPUs (DDP/FSDP) or several nodes.
"""
