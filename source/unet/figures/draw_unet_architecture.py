"""Draws figures/unet_architecture.png, the U-Net diagram of the unet assignment.

Run from the repository root:  .venv/bin/python source/unet/figures/draw_unet_architecture.py
(nbgrader does not release this script: nbgrader_config.py ignores draw_*.py.)
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

HEIGHT, WIDTH, FILTERS, CLASSES = 96, 128, 32, 13
STEP_X, STEP_Y = 1.45, 1.3
COLOURS = {"encoder": "#4C72B0", "decoder": "#55A868", "bottleneck": "#8172B2", "io": "#DDDDDD"}


def feature_box(axis, x, y, level, kind, channels=None, label=None, side="below", dropout=False):
    """Draw one feature map; its height shrinks with resolution, its width grows with channels.

    A decoder box also names the channels of its concatenation [up, skip] (twice the block's filters), which
    its two convolutions bring back down; a box with ``dropout`` is hatched."""
    channels = channels or FILTERS * 2**level
    box_h = 0.95 / (1.35**level)
    box_w = 0.18 + 0.07 * level
    axis.add_patch(Rectangle((x - box_w / 2, y - box_h / 2), box_w, box_h, facecolor=COLOURS[kind], alpha=0.9,
                             hatch="////" if dropout else None, edgecolor="black" if dropout else COLOURS[kind]))
    text = label or f"{HEIGHT // 2**level}x{WIDTH // 2**level}\n{channels} ch"
    if kind == "decoder":
        text = f"{HEIGHT // 2**level}x{WIDTH // 2**level}\n[up, skip] {2 * channels} ch\n-> {channels} ch"
    elif kind == "bottleneck":
        text = f"bottleneck {HEIGHT // 2**level}x{WIDTH // 2**level}\n{channels} ch, no pooling\n+ dropout 0.3"
    elif dropout:
        text += "\n+ dropout 0.3"
    if side == "left":
        axis.text(x - box_w / 2 - 0.08, y, text, ha="right", va="center", fontsize=8)
    elif side == "right":  # below the arrow that leaves the box's top right corner
        axis.text(x + box_w / 2 + 0.06, y + box_h / 4, text, ha="left", va="top", fontsize=8)
    elif side == "above":
        axis.text(x, y + box_h / 2 + 0.08, text.replace("\n", ", ", 1), ha="center", va="bottom", fontsize=8)
    else:
        axis.text(x, y - box_h / 2 - 0.08, text, ha="center", va="top", fontsize=8)
    return x, y, box_w, box_h


def arrow(axis, start, end, colour, style="-|>", dashed=False):
    axis.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=colour, lw=1.6,
                                   linestyle="--" if dashed else "-", shrinkA=2, shrinkB=2))


def main(out: Path) -> None:
    fig, axis = plt.subplots(figsize=(11, 5.2))
    encoder = [feature_box(axis, i * STEP_X, -i * STEP_Y, i, "bottleneck" if i == 4 else "encoder",
                           side="below" if i in (0, 4) else "left", dropout=i >= 3) for i in range(5)]
    decoder = {i: feature_box(axis, (8 - i) * STEP_X, -i * STEP_Y, i, "decoder", side="above" if i == 0 else "right")
               for i in range(3, -1, -1)}
    image = feature_box(axis, -1.1, 0, 0, "io", label=f"image\n{HEIGHT}x{WIDTH}x3")
    logits = feature_box(axis, 8 * STEP_X + 1.7, 0, 0, "io", label=f"logits\n{HEIGHT}x{WIDTH}x{CLASSES}")

    arrow(axis, (image[0] + image[2] / 2, 0), (encoder[0][0] - encoder[0][2] / 2, 0), "black")
    for i in range(4):
        (x0, y0, w0, h0), (x1, y1, w1, h1) = encoder[i], encoder[i + 1]
        arrow(axis, (x0 + w0 / 2, y0 - h0 / 2), (x1, y1 + h1 / 2), "#C44E52")          # conv_block: 2 convs + pool
        src = encoder[i + 1] if i == 3 else decoder[i + 1]
        dst = decoder[i]
        arrow(axis, (src[0] + src[2] / 2, src[1] + src[3] / 2), (dst[0] - dst[2] / 2, dst[1] - dst[3] / 2), "#DD8452")  # transposed conv
        arrow(axis, (x0 + w0 / 2, y0), (dst[0] - dst[2] / 2, dst[1]), "grey", "-|>", dashed=True)  # skip
    arrow(axis, (decoder[0][0] + decoder[0][2] / 2, 0), (logits[0] - logits[2] / 2, 0), "black")

    handles = [plt.Line2D([], [], color=c, lw=2, linestyle=s, label=t) for c, s, t in [
        ("#C44E52", "-", "conv_block: 2 x Conv2D 3x3 + MaxPooling2D"),
        ("#DD8452", "-", "upsampling_block: Conv2DTranspose 3x3, stride 2"),
        ("grey", "--", "skip connection, concatenated [up, skip]"),
        ("black", "-", "input / Conv2D 3x3 then Conv2D 1x1 to class logits")]]
    handles.append(Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="black", hatch="////",
                             label="Dropout(0.3) after the two convolutions, before pooling"))
    axis.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False,
                bbox_to_anchor=(0.5, -0.08))
    axis.set_xlim(-1.8, 8 * STEP_X + 2.4)
    axis.set_ylim(-4 * STEP_Y - 1.7, 1.25)
    axis.set_aspect("equal")
    axis.axis("off")
    axis.set_title("U-Net: encoder (left), bottleneck (bottom), decoder (right)", fontsize=11)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print("wrote", out)


if __name__ == "__main__":
    main(Path(__file__).with_name("unet_architecture.png"))
