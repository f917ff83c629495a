"""The action node's heatmap image: each track's attention-flow heatmap over its crop window, with its top label."""
import cv2
import numpy as np


def draw_heatmaps(bgr: np.ndarray, result) -> np.ndarray:
    """The image with each track's attention-flow heatmap blended into its crop window and its top label."""
    out = bgr.copy()
    height, width = bgr.shape[:2]
    probs = {a.track_id: a for a in result.frame.actions}
    for tid, heat in result.heatmaps.items():
        x0, y0, w, h = (int(round(v)) for v in result.windows[tid])
        if w <= 0 or h <= 0:
            continue
        peak = float(heat.max())
        norm = np.clip(heat / peak if peak > 0 else heat, 0, 1).astype(np.float32)
        big = cv2.resize(norm, (w, h), interpolation=cv2.INTER_LINEAR)          # the whole window
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, width), min(y0 + h, height)
        if xb <= xa or yb <= ya:
            continue
        big = big[ya - y0:yb - y0, xa - x0:xb - x0]                               # the part inside the image
        color = cv2.applyColorMap((big * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
        alpha = 0.6 * big[..., None]
        out[ya:yb, xa:xb] = (out[ya:yb, xa:xb] * (1 - alpha) + color * alpha).astype(np.uint8)
        cv2.rectangle(out, (xa, ya), (xb - 1, yb - 1), (255, 255, 255), 1)
        action = probs.get(tid)
        if action is not None and len(action.labels):
            best = int(np.argmax(action.probabilities))
            cv2.putText(out, f'{tid}: {action.labels[best]} {action.probabilities[best]:.2f}', (xa, max(ya - 4, 10)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out
