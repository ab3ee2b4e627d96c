"""The LightningModule: training-time augmentation, masked multitask losses, optional DRPO
reweighting, optimiser."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import lightning as L
import torch

from climb.load.transforms import BatchTransforms
from climb.models.heads import position_type
from climb.models.losses import masked_position_loss, masked_task_loss, reduce_loss
from climb.models.model import MultimodalModel, batch_size
from climb.train.drpo import DomainReweighter, reward


def batch_domains(batch: dict[str, Any], key: str) -> list[str]:
    """Domain of every sample: its dataset, or a meta field (missing -> "unknown")."""
    if key == "dataset":
        return list(batch["dataset"])
    return [str((m or {}).get(key) or "unknown") for m in batch["meta"]]


def drpo_mode(drpo: dict[str, Any]) -> str:
    """``off``, ``simple`` or ``hierarchical`` from a resolved ``loss.drpo`` section."""
    return str(drpo.get("mode") or "off")


class ClimbModule(L.LightningModule):
    """Wraps a :class:`MultimodalModel` for training.

    The loss of a batch is the mean over the tasks supervised in it of each task's masked
    loss (per-position tasks: the mean over the batch's supervised tokens / nodes); with
    DRPO (``loss.drpo.mode``) every training sample's loss is scaled by its
    weight from :class:`climb.train.drpo.DomainReweighter`.
    """

    def __init__(self, model: MultimodalModel, tasks: list, cfg: dict[str, Any],
                 class_weights: dict[str, torch.Tensor] | None = None,
                 domains: Iterable[str] | None = None):
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
        mode = drpo_mode(drpo)
        if mode != "off":
            self.drpo = DomainReweighter(
                domains or [], mode, alpha=drpo["alpha"], beta=drpo["beta"], ema=drpo["ema"],
                max_weight=drpo["max_weight"], history=drpo["history"],
                max_samples=drpo["max_samples"], refit_every=drpo["refit_every"],
                k_max=drpo["k_max"], elbow_tol=drpo["elbow_tol"],
                min_reward=drpo["min_reward"])
        self.last_weights: torch.Tensor | None = None  # DRPO weights of the last train batch
        # augmentation of training batches only (validation, test, predict never see it)
        self.transforms = BatchTransforms(cfg.get("transforms"), int(cfg.get("seed") or 0))
        self.frozen: list[torch.nn.Module] = []

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.model(batch)

    def on_train_epoch_start(self) -> None:
        for module in self.frozen:  # frozen parts keep their BatchNorm statistics
            module.eval()

    def _loss(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        """Mean over the tasks supervised in the batch of each task's masked loss; in training
        with DRPO each sample's loss is scaled by its weight (mean 1 over the batch), which
        is kept out of the task's normaliser so it changes the task's share of the total."""
        logits = self.model(batch)
        b = batch_size(batch)
        use_drpo = self.drpo is not None and stage == "train"
        parts: list[tuple[str, torch.Tensor, torch.Tensor]] = []
        reward_sum = torch.zeros(b, device=self.device)
        reward_n = torch.zeros(b, device=self.device)
        for task in self.tasks:
            if task.key not in batch["labels"]:
                continue
            labels = batch["labels"][task.key].to(self.device)
            kind = position_type(task)
            if kind is not None:  # per token / node: no class weights, no DRPO reward
                owner = (batch["inputs"][self.model.position_input].batch.to(self.device)
                         if kind == "multilabel" else None)
                parts.append((task.key, *masked_position_loss(logits[task.key], labels, kind,
                                                              owner, b)))
                continue
            per, w = masked_task_loss(
                logits[task.key], labels, task.type,
                label_mask=_to(batch.get("label_mask", {}).get(task.key), self.device),
                class_weights=getattr(self, _cw_name(task.key), None),
                regression=self.loss_cfg["regression"])
            known = w > 0
            if use_drpo and bool(known.any()):
                scale = (self.drpo.regression_scale(task.key, per, known)
                         if task.type == "regression" else None)
                reward_sum = reward_sum + reward(logits[task.key], labels, task.type, known,
                                                 per, scale)
                reward_n = reward_n + known.float()
            parts.append((task.key, per, w))
        sample_weight = None
        if use_drpo:
            domains = batch_domains(batch, self.loss_cfg["drpo"]["domain"])
            sample_weight = self.drpo.weigh(domains, batch["sample_id"],
                                            reward_sum / reward_n.clamp(min=1), reward_n > 0)
            self.last_weights = sample_weight.detach()
        total, n_tasks = 0.0, 0
        for key, per, w in parts:
            if bool((w > 0).any()):
                task_loss = reduce_loss(per, w, sample_weight)
                self.log(f"{stage}/loss/{key}", task_loss, batch_size=b, sync_dist=True,
                         on_step=False, on_epoch=True)
                total = total + task_loss
                n_tasks += 1
        return total / n_tasks if n_tasks else _zero_loss(logits)

    def augment(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """The training batch with ``transforms`` applied on its device, drawn from
        ``(seed, rank, epoch, batch_idx)``: reproducible, resumable, distinct per rank."""
        if not self.transforms:
            return batch
        return self.transforms(batch, (self.global_rank, self.current_epoch, batch_idx))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        batch = self.augment(batch, batch_idx)
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
        if self.drpo is not None:  # mean DRPO weight of each domain's samples this epoch
            for d, w in self.drpo.epoch_weights().items():
                self.log(f"drpo/weight/{d}", w, sync_dist=False)
            for d, k in self.drpo.n_clusters().items():
                self.log(f"drpo/clusters/{d}", float(k), sync_dist=False)

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
