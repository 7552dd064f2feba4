"""The ResNet architecture as data: the one table of stages that the builder checks, the ResNet-50 check
and the counting share (He et al. 2015, Table 1)."""
from __future__ import annotations

#: Blocks per stage (conv2 .. conv5) for each depth.
REPETITIONS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
DEPTHS = tuple(REPETITIONS)
STAGE_NAMES = ("conv2", "conv3", "conv4", "conv5")
EXPANSION = 4   # a bottleneck block outputs 4 times its filters


def uses_bottleneck(depth: int) -> bool:
    """ResNet-50 and deeper use bottleneck blocks; ResNet-18 and 34 use basic blocks."""
    return depth >= 50


def stage_filters(stage: int) -> int:
    """The filters of stage conv2 + stage: 64, 128, 256, 512."""
    return 64 * 2 ** stage


def stage_channels(stage: int, bottleneck: bool) -> int:
    """The channels a stage's blocks output."""
    return stage_filters(stage) * (EXPANSION if bottleneck else 1)


def stage_size(stage: int, image: int = 64) -> int:
    """The image size a stage outputs: the stem divides it by 4, stages conv3 to conv5 halve it."""
    return image // 4 // 2 ** stage


#: ResNet-50, as notebook 04 builds it: channels at the end of a stage -> (name, blocks, [F1, F2, F3]).
RESNET50_STAGES = {stage_channels(i, True): (name, REPETITIONS[50][i], [stage_filters(i)] * 2 + [stage_channels(i, True)])
                   for i, name in enumerate(STAGE_NAMES)}
