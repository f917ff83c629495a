"""Adapters on the frozen ViT + a streaming class-temporal relational head, and the two baselines (one file).

    model = build_action_model(ActionModelConfig(kind='flow', motion_dim=192))
    logits = model(tokens, motion, mask)     # (B, T, K, 2D), (B, T, F), (B, T) -> (B, C) for the newest frame

Inputs are a causal window of the last T frames of one person (or of the whole frame), oldest first, left-padded
(mask 0) at the start of a track:
- tokens: the frozen backbone's CLS and mean-patch tokens of K layers (features.SequenceFeatures.tokens);
- motion: the attention-map flow features of each frame and a has-previous flag (features.py, flow.py).

Kinds (trained identically by train_actions.py):
- 'flow' (ours): token adapters + motion adapter -> per-frame embedding -> causal temporal self-attention ->
  class-temporal relational layer -> one logit per class for the newest frame;
- 'noflow': the same, without the motion adapter (appearance over time only);
- 'framemean': the frame-averaged backbone tokens of the window -> token adapters -> linear classifier.

Adapters: per token layer a bottleneck (LayerNorm, Linear D->r, GELU, Linear r->d), summed: side adapters that
read the frozen backbone's intermediate layers (the backbone itself is never back-propagated through, so
training is cheap and the backbone stays shared by every head). The motion adapter is the same shape on the flow
features. Class-temporal relational reasoning: one token per (time step, class), z[t, c] = h[t] + e[c] + p[t],
and self-attention among all of them with a causal mask (t' <= t): a class at time t attends to every class at
the same step (concurrent actions) and at earlier steps of the window (composite actions, distant relations);
the logit of class c is read from z[T-1, c]. Feature standardisation (train-set mean/std) is a buffer, so the
exported ONNX takes raw features.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

KINDS = ('flow', 'noflow', 'framemean')


@dataclass(frozen=True)
class ActionModelConfig:
    """Shape of an action model."""

    kind: str = 'flow'                 # one of KINDS
    num_classes: int = 6
    token_layers: int = 3              # K
    token_dim: int = 768               # CLS + mean patch token (2 x 384)
    motion_dim: int = 192              # flow features per frame (maps x 8); the has-previous flag is added
    window: int = 16                   # T, frames
    dim: int = 64                      # d, per-frame embedding
    adapter_dim: int = 32              # r, token-adapter bottleneck
    heads: int = 4
    temporal_layers: int = 1
    relation_layers: int = 1
    dropout: float = 0.1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f'kind must be one of {KINDS}, got {self.kind!r}')
        if self.dim % self.heads:
            raise ValueError(f'dim {self.dim} must be a multiple of heads {self.heads}')

    def to_json(self) -> dict:
        return asdict(self)


class Standardize(nn.Module):
    """(x - mean) / std with train-set statistics stored as buffers."""

    def __init__(self, shape):
        super().__init__()
        self.register_buffer('mean', torch.zeros(shape))
        self.register_buffer('std', torch.ones(shape))

    def forward(self, x):
        return (x - self.mean) / self.std


class Adapter(nn.Module):
    """Bottleneck adapter: LayerNorm -> Linear(in, r) -> GELU -> Linear(r, out)."""

    def __init__(self, dim_in: int, bottleneck: int, dim_out: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim_in), nn.Linear(dim_in, bottleneck), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(bottleneck, dim_out))

    def forward(self, x):
        return self.net(x)


class TokenAdapters(nn.Module):
    """One adapter per backbone layer, summed: (..., K, token_dim) -> (..., d)."""

    def __init__(self, cfg: ActionModelConfig):
        super().__init__()
        self.norm = Standardize((cfg.token_layers, cfg.token_dim))
        self.adapters = nn.ModuleList(Adapter(cfg.token_dim, cfg.adapter_dim, cfg.dim, cfg.dropout)
                                      for _ in range(cfg.token_layers))

    def forward(self, tokens):
        tokens = self.norm(tokens)
        return sum(a(tokens[..., k, :]) for k, a in enumerate(self.adapters))


class SelfAttention(nn.Module):
    """Multi-head self-attention with an additive mask (plain ops: exports to any ONNX runtime)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias):
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)                                                                # (B, nh, N, hs)
        att = (q @ k.transpose(-2, -1)) * self.head_dim ** -0.5 + bias[:, None]                # (B, nh, N, N)
        att = self.drop(torch.softmax(att, dim=-1))
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm self-attention block; `bias` (B, N, N) is 0 where allowed and -1e4 where blocked."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim))

    def forward(self, x, bias):
        x = x + self.attn(self.norm1(x), bias)
        return x + self.mlp(self.norm2(x))


BLOCKED = -1e4     # additive attention bias of a blocked pair (exp underflows to 0 in float32)


def attention_bias(mask: torch.Tensor, repeat: int) -> torch.Tensor:
    """(B, T*repeat, T*repeat) additive bias: a query at time t sees valid keys at times <= t (and itself).

    Tokens are time-major: token i is time i // repeat.
    """
    t = mask.shape[1]
    time = torch.arange(t, device=mask.device).repeat_interleave(repeat)             # (T*R,)
    future = (time[None, :] > time[:, None]).float()                                 # (T*R, T*R)
    invalid = (1.0 - mask).repeat_interleave(repeat, dim=1)                          # (B, T*R)
    blocked = torch.clamp(future[None] + invalid[:, None, :], max=1.0)
    eye = torch.eye(t * repeat, device=mask.device)[None]
    return blocked * (1.0 - eye) * BLOCKED                                           # never an all-blocked row


class ClassTemporalAttention(nn.Module):
    """Class queries of the newest frame attend to every (time, class) token of the causal window.

    Token (t, c) = h[t] + e[c]; its key/value projection is W h[t] + W e[c] (+ bias), computed as a broadcast
    sum, so the T x C tokens cost O(T + C) projections. The newest frame's query for class c is h[T-1] + e[c].
    """

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, h, e, bias):
        """Attend: h (B, T, d) normalised frame states, e (C, d) class embeddings, bias (B, T) -> (B, C, d)."""
        b, t, d = h.shape
        c = e.shape[0]
        nh, hs = self.heads, self.head_dim
        q = self.q(h[:, -1:, :] + e[None]).view(b, c, nh, hs).transpose(1, 2)                   # (B, nh, C, hs)
        k = (self.k(h)[:, :, None] + (e @ self.k.weight.T)[None, None]).view(b, t * c, nh, hs)  # (B, T*C, nh, hs)
        v = (self.v(h)[:, :, None] + (e @ self.v.weight.T)[None, None]).view(b, t * c, nh, hs)
        att = q @ k.permute(0, 2, 3, 1) * hs ** -0.5                                            # (B, nh, C, T*C)
        att = att + bias.repeat_interleave(c, dim=1)[:, None, None, :]
        att = self.drop(torch.softmax(att, dim=-1))
        out = (att @ v.transpose(1, 2)).transpose(1, 2).reshape(b, c, d)                        # (B, C, d)
        return self.proj(out)


class ClassTemporalHead(nn.Module):
    """Causal temporal attention over the window, then class-temporal relational attention; newest-frame logits.

    1. temporal_layers causal self-attention blocks over the T frame embeddings;
    2. one class-temporal layer: a query per class at the newest frame attends to every (time step, class) token
       of the window: relations between classes at the same and at distant time steps (concurrent and
       composite actions);
    3. relation_layers - 1 self-attention blocks among the C class tokens (class co-occurrence);
    4. one logit per class from its own token.
    """

    def __init__(self, cfg: ActionModelConfig):
        super().__init__()
        self.cfg = cfg
        self.time_embed = nn.Parameter(torch.zeros(cfg.window, cfg.dim))
        self.class_embed = nn.Parameter(torch.randn(cfg.num_classes, cfg.dim) * 0.02)
        self.temporal = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.dropout) for _ in range(cfg.temporal_layers))
        self.norm_h = nn.LayerNorm(cfg.dim)
        self.relate = ClassTemporalAttention(cfg.dim, cfg.heads, cfg.dropout)
        self.norm_z = nn.LayerNorm(cfg.dim)
        self.mlp = nn.Sequential(nn.Linear(cfg.dim, 2 * cfg.dim), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(2 * cfg.dim, cfg.dim))
        self.classes = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.dropout)
                                     for _ in range(max(cfg.relation_layers - 1, 0)))
        self.norm = nn.LayerNorm(cfg.dim)
        self.class_weight = nn.Parameter(torch.randn(cfg.num_classes, cfg.dim) * 0.02)
        self.class_bias = nn.Parameter(torch.zeros(cfg.num_classes))

    def forward(self, x, mask):
        b, t, d = x.shape                                      # (B, T, d)
        x = x + self.time_embed[-t:]
        bias = attention_bias(mask, 1)
        for block in self.temporal:
            x = block(x, bias)
        h = self.norm_h(x)
        z = h[:, -1:, :] + self.class_embed[None]                                          # (B, C, d)
        z = z + self.relate(h, self.class_embed, (1.0 - mask) * BLOCKED)
        z = z + self.mlp(self.norm_z(z))
        no_mask = torch.zeros(b, z.shape[1], z.shape[1], device=z.device, dtype=z.dtype)
        for block in self.classes:
            z = block(z, no_mask)
        return (self.norm(z) * self.class_weight).sum(-1) + self.class_bias                  # (B, C)


class ActionModel(nn.Module):
    """Adapters + head of one kind; forward(tokens, motion, mask) -> logits (B, C) of the newest frame."""

    def __init__(self, cfg: ActionModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tokens = TokenAdapters(cfg)
        if cfg.kind == 'flow':
            self.motion_norm = Standardize((cfg.motion_dim + 1,))
            self.motion = Adapter(cfg.motion_dim + 1, cfg.dim, cfg.dim, cfg.dropout)
        if cfg.kind == 'framemean':
            self.classifier = nn.Sequential(nn.LayerNorm(cfg.dim), nn.Dropout(cfg.dropout),
                                            nn.Linear(cfg.dim, cfg.num_classes))
        else:
            self.head = ClassTemporalHead(cfg)

    def forward(self, tokens, motion, mask):
        """Logits of the newest frame.

        Args:
            tokens: (B, T, K, token_dim) float32 raw backbone tokens.
            motion: (B, T, motion_dim + 1) float32 raw flow features, last column = has-previous flag.
            mask: (B, T) float32, 1 = a real frame, 0 = padding before the track started.
        """
        if self.cfg.kind == 'framemean':
            w = mask[..., None, None]
            mean = (tokens * w).sum(1) / w.sum(1).clamp(min=1.0)                      # (B, K, token_dim)
            return self.classifier(self.tokens(mean))
        x = self.tokens(tokens)                                                        # (B, T, d)
        if self.cfg.kind == 'flow':
            x = x + self.motion(self.motion_norm(motion))
        return self.head(x * mask[..., None], mask)

    def forward_indexed(self, tokens, token_index, motion, motion_index, mask):
        """Same as forward, with each distinct frame's adapters run once (training: windows overlap).

        Args:
            tokens: (U, K, token_dim) distinct frames' tokens; token_index (B, T) int64 rows of `tokens`.
            motion: (V, motion_dim + 1) distinct (view, frame) motion; motion_index (B, T) rows of `motion`.
            mask: (B, T).
        """
        if self.cfg.kind == 'framemean':
            return self.forward(tokens[token_index], motion[motion_index], mask)
        x = self.tokens(tokens)[token_index]                                           # (B, T, d)
        if self.cfg.kind == 'flow':
            x = x + self.motion(self.motion_norm(motion))[motion_index]
        return self.head(x * mask[..., None], mask)

    def set_normalization(self, tokens_mean, tokens_std, motion_mean=None, motion_std=None) -> None:
        """Store train-set statistics (std floored at 1e-3 of the largest std to keep constants finite)."""
        def floor(s):
            s = torch.as_tensor(s, dtype=torch.float32)
            return s.clamp(min=max(float(s.max()) * 1e-3, 1e-6))
        self.tokens.norm.mean.copy_(torch.as_tensor(tokens_mean, dtype=torch.float32))
        self.tokens.norm.std.copy_(floor(tokens_std))
        if self.cfg.kind == 'flow' and motion_mean is not None:
            self.motion_norm.mean.copy_(torch.as_tensor(motion_mean, dtype=torch.float32))
            self.motion_norm.std.copy_(floor(motion_std))


def build_action_model(cfg: ActionModelConfig) -> ActionModel:
    """An ActionModel with its config."""
    return ActionModel(cfg)


def trainable_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (buffers such as the standardisation are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
