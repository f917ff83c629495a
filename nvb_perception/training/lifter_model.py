"""2D -> 3D pose lifters in one file: a causal temporal convolutional lifter and a single-frame MLP baseline.

    model = build_model(LifterConfig(kind='temporal'))     # or kind='mlp' (Martinez et al. 2017)
    pose, log_var = model(x)      # x (B, T, 17, 3) [x, y, conf] normalised; T = config.receptive_field
    # pose (B, 17, 3) metres, root-relative, for the last frame; log_var (B, 17) log of the per-axis variance

TemporalLifter follows VideoPose3D (Pavllo et al. 2019) made causal: a stack of dilated temporal convolutions
(kernel widths `filter_widths`, dilations 1, w0, w0*w1, ...) with residual blocks, receptive field the product of
the widths. A window of exactly receptive_field frames runs as strided convolutions (VideoPose3D's "optimised"
training model: the same weights, only the last frame computed); `forward_sequence` runs the dilated form over
longer sequences, one output per frame from frame receptive_field - 1 on. Single-frame mode: the last frame
repeated over the window (the runtime Lifter does that for untracked people), which training includes.

Both models also predict a per-joint log-variance of an isotropic Gaussian, trained by `lifter_loss`.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

JOINTS = 17
LOG_VAR_RANGE = (-14.0, 2.0)   # per-axis std between 1 mm and 2.7 m: keeps exp() finite early in training


@dataclass
class LifterConfig:
    """Architecture of one lifter. kind 'temporal' uses filter_widths/channels, 'mlp' mlp_width/mlp_blocks."""

    kind: str = 'temporal'                       # 'temporal' | 'mlp'
    joints: int = JOINTS
    filter_widths: tuple[int, ...] = (3, 3, 3)   # receptive field = product: 27 frames (0.9 s at 30 fps)
    channels: int = 256                          # 512 (2.2 M parameters) runs ~4 ms per person-frame on 1 core
    mlp_width: int = 1024
    mlp_blocks: int = 2
    dropout: float = 0.1                         # 0.25 (VideoPose3D) doubles the training error in short runs

    def __post_init__(self):
        self.filter_widths = tuple(int(w) for w in self.filter_widths)   # JSON gives lists
        if self.kind not in ('temporal', 'mlp'):
            raise ValueError(f"kind must be 'temporal' or 'mlp', got {self.kind!r}")
        if not self.filter_widths or any(w < 1 for w in self.filter_widths):
            raise ValueError(f'filter_widths must be positive, got {self.filter_widths}')

    @property
    def receptive_field(self) -> int:
        """Frames the model reads per output (its input T)."""
        return math.prod(self.filter_widths) if self.kind == 'temporal' else 1

    def to_dict(self) -> dict:
        """JSON-ready dict (build_model(LifterConfig(**d)) round-trips)."""
        return asdict(self)


class TemporalLifter(nn.Module):
    """Causal dilated temporal convolutions, VideoPose3D-style."""

    def __init__(self, config: LifterConfig):
        super().__init__()
        self.config = config
        c, widths = config.channels, config.filter_widths
        self.expand = nn.Conv1d(config.joints * 3, c, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(c, momentum=0.1)
        self.convs = nn.ModuleList(nn.Conv1d(c, c, w, bias=False) for w in widths[1:])
        self.conv_bns = nn.ModuleList(nn.BatchNorm1d(c, momentum=0.1) for _ in widths[1:])
        self.mixes = nn.ModuleList(nn.Conv1d(c, c, 1, bias=False) for _ in widths[1:])
        self.mix_bns = nn.ModuleList(nn.BatchNorm1d(c, momentum=0.1) for _ in widths[1:])
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Conv1d(c, config.joints * 4, 1)   # 3 coordinates + 1 log-variance per joint

    def _run(self, x: torch.Tensor, strided: bool) -> torch.Tensor:
        """(B, T, J, 3) -> (B, 4J, T') features; strided: T == receptive field and T' = 1."""
        b, t, j, _ = x.shape
        x = x.reshape(b, t, j * 3).transpose(1, 2)                       # (B, 3J, T)
        widths = self.config.filter_widths
        w0 = widths[0]
        x = F.conv1d(x, self.expand.weight, stride=w0 if strided else 1)
        x = self.drop(F.relu(self.expand_bn(x)))                         # (B, C, T - w0 + 1) or (B, C, T / w0)
        dilation = w0
        for i, w in enumerate(widths[1:]):
            # causal residual: the newest input frame of each output's span
            res = x[:, :, w - 1::w] if strided else x[:, :, (w - 1) * dilation:]
            conv = self.convs[i].weight
            x = F.conv1d(x, conv, stride=w) if strided else F.conv1d(x, conv, dilation=dilation)
            x = self.drop(F.relu(self.conv_bns[i](x)))
            x = res + self.drop(F.relu(self.mix_bns[i](self.mixes[i](x))))
            dilation *= w
        return self.head(x)

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 4J, T') -> pose (B, T', J, 3), log_var (B, T', J)."""
        b, _, t = out.shape
        out = out.transpose(1, 2)
        j = self.config.joints
        return out[..., :3 * j].reshape(b, t, j, 3), out[..., 3 * j:].clamp(*LOG_VAR_RANGE)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lift a window x (B, T, J, 3), T = receptive field, to pose (B, J, 3) m, log_var (B, J) of its last frame."""
        if x.shape[1] != self.config.receptive_field:
            raise ValueError(f'expected {self.config.receptive_field} frames, got input shape {tuple(x.shape)}')
        pose, log_var = self._split(self._run(x, strided=True))
        return pose[:, -1], log_var[:, -1]

    def forward_sequence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lift x (B, T, J, 3), T >= RF, to pose (B, T - RF + 1, J, 3) and log_var (B, T - RF + 1, J).

        Output k belongs to input frame k + RF - 1 and depends on no later frame (causal).
        """
        return self._split(self._run(x, strided=False))


class MlpLifter(nn.Module):
    """Single-frame baseline after Martinez et al. 2017: linear, residual blocks of two linear layers, linear."""

    def __init__(self, config: LifterConfig):
        super().__init__()
        self.config = config
        w, j = config.mlp_width, config.joints

        def layer():
            return nn.Sequential(nn.Linear(w, w), nn.BatchNorm1d(w), nn.ReLU(), nn.Dropout(config.dropout))

        self.inp = nn.Sequential(nn.Linear(j * 3, w), nn.BatchNorm1d(w), nn.ReLU(), nn.Dropout(config.dropout))
        self.blocks = nn.ModuleList(nn.Sequential(layer(), layer()) for _ in range(config.mlp_blocks))
        self.head = nn.Linear(w, j * 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lift the last frame of x (B, T, J, 3) to pose (B, J, 3) metres and log_var (B, J)."""
        b, _, j, _ = x.shape
        h = self.inp(x[:, -1].reshape(b, j * 3))
        for block in self.blocks:
            h = h + block(h)
        out = self.head(h)
        return out[:, :3 * j].reshape(b, j, 3), out[:, 3 * j:].clamp(*LOG_VAR_RANGE)


def build_model(config: LifterConfig) -> nn.Module:
    """The lifter `config.kind` names."""
    return TemporalLifter(config) if config.kind == 'temporal' else MlpLifter(config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lifter_loss(pose: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor,
                nll_weight: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """MPJPE on the pose plus a Gaussian negative log-likelihood for the variance.

    The NLL sees the pose detached, so the uncertainty head learns to predict the error without pulling the pose
    towards the easy joints (a plain NLL down-weights hard joints and loses accuracy).

    Args:
        pose: (B, J, 3) metres.
        log_var: (B, J) log of the per-axis variance (m^2) of an isotropic Gaussian per joint.
        target: (B, J, 3) metres.
        nll_weight: weight of the NLL term.

    Returns:
        (loss, mpjpe in metres), both scalars.

    """
    err = torch.linalg.vector_norm(pose - target, dim=-1)                       # (B, J)
    sq = torch.sum((pose.detach() - target) ** 2, dim=-1)
    nll = 0.5 * (3 * log_var + sq * torch.exp(-log_var))
    mpjpe = err.mean()
    return mpjpe + nll_weight * nll.mean(), mpjpe
