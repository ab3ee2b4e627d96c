"""The LightningModule: masked multitask losses, optional DRPO reweighting, optimiser."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from climb.models.losses import masked_task_loss, reduce_loss
from climb.models.model import MultimodalModel, batch_size
from climb.train.drpo import DomainReweighter


def batch_domains(batch: dict[str, Any], key: str) -> list[str]:
    """Domain of every sample: its dataset, or a meta field (missing -> "unknown")."""
    if key == "dataset":
        return list(batch["dataset"])
    return [str((m or {}).get(key) or "unknown") for m in batch["meta"]]


class ClimbModule(L.LightningModule):
    """Wraps a :class:`MultimodalModel` for training.

    The loss of a batch is the mean over the tasks supervised in it of each task's masked
    loss; with DRPO every sample's loss is weighted by its domain's weight.
    """

    def __init__(self, model: MultimodalModel, tasks: list, cfg: dict[str, Any],
                 class_weights: dict[str, torch.Tensor] | None = None,
                 domain_counts: dict[str, int] | None = None):
        super().__init__()
        self.model = model
        self.tasks = list(tasks)
        self.cfg = cfg
        self.loss_cfg = cfg["loss"]
        self.optim_cfg = cfg["optim"]
        for key, w in (class_weights or {}).items():
            self.register_buffer(_cw_name(key), w.float())
        drpo = self.loss_cfg["drpo"]
        self.drpo: DomainReweighter | None = None
        if drpo["enabled"]:
            self.drpo = DomainReweighter(domain_counts or {}, drpo["alpha"], drpo["beta"],
                                         drpo["ema"], drpo["max_weight"])

        self.frozen: list[torch.nn.Module] = []

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.model(batch)

    def on_train_epoch_start(self) -> None:
        for module in self.frozen:  # frozen parts keep their BatchNorm statistics
            module.eval()

    def _loss(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        logits = self.model(batch)
        b = batch_size(batch)
        dw = None
        domains = None
        if self.drpo is not None:
            domains = batch_domains(batch, self.loss_cfg["drpo"]["domain"])
            dw = self.drpo.sample_weights(domains)
        total, n_tasks = 0.0, 0
        sample_loss = torch.zeros(b, device=self.device)
        sample_sup = torch.zeros(b, device=self.device)
        for task in self.tasks:
            if task.key not in batch["labels"]:
                continue
            per, w = masked_task_loss(
                logits[task.key], batch["labels"][task.key].to(self.device), task.type,
                label_mask=_to(batch.get("label_mask", {}).get(task.key), self.device),
                class_weights=getattr(self, _cw_name(task.key), None),
                regression=self.loss_cfg["regression"])
            sample_loss = sample_loss + per.detach() * (w > 0)
            sample_sup = sample_sup + (w > 0).float()
            if dw is not None:
                w = w * dw
            if bool((w > 0).any()):
                task_loss = reduce_loss(per, w)
                self.log(f"{stage}/loss/{task.key}", task_loss, batch_size=b, sync_dist=True,
                         on_step=False, on_epoch=True)
                total = total + task_loss
                n_tasks += 1
        loss = total / max(n_tasks, 1) if n_tasks else _zero_loss(logits)
        if self.drpo is not None and stage == "train":
            self.drpo.update(domains, sample_loss / sample_sup.clamp(min=1), sample_sup > 0)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch, "train")
        self.log("train/loss", loss, batch_size=batch_size(batch), prog_bar=True,
                 on_step=True, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch, "val")
        self.log("val/loss", loss, batch_size=batch_size(batch), prog_bar=True,
                 on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def on_train_epoch_end(self) -> None:
        if self.drpo is not None:
            for d, w in zip(self.drpo.domains, self.drpo.domain_weights().tolist(), strict=True):
                self.log(f"drpo/weight/{d}", w, sync_dist=False)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        o = self.optim_cfg
        name = o["name"].lower()
        if name == "adamw":
            opt = torch.optim.AdamW(params, lr=o["lr"], weight_decay=o["weight_decay"])
        elif name == "adam":
            opt = torch.optim.Adam(params, lr=o["lr"], weight_decay=o["weight_decay"])
        elif name == "sgd":
            opt = torch.optim.SGD(params, lr=o["lr"], weight_decay=o["weight_decay"],
                                  momentum=0.9)
        else:
            raise ValueError(f"optim.name must be adamw, adam or sgd, not {o['name']!r}")
        if o["scheduler"] == "none":
            return opt
        if o["scheduler"] != "cosine":
            raise ValueError(f"optim.scheduler must be none or cosine, not {o['scheduler']!r}")
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warm = int(o["warmup_steps"])

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            progress = (step - warm) / max(total - warm, 1)
            return 0.5 * (1 + torch.cos(torch.tensor(torch.pi * min(progress, 1.0)))).item()

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _cw_name(key: str) -> str:
    return "class_weight__" + key.replace(".", "__")


def _to(t: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if t is None else t.to(device)


def _zero_loss(logits: dict[str, torch.Tensor]) -> torch.Tensor:
    """A zero that still touches the graph (so DDP sees every parameter used)."""
    return sum(v.sum() for v in logits.values()) * 0.0
