"""The parameters of the ``images`` job (the PRD's 服装清理增强), one set for every image in a batch.

Each field carries an English title and description and a Chinese ``title_zh``: the dashboard renders its form
from this model's JSON schema.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from batchyard.jobs.labels import zh


class ImageParams(BaseModel):
    """How to clean up and enhance each image of a batch."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Clean up and enhance",
        json_schema_extra=zh("服装清理增强", "对每张图片使用相同参数进行清理与增强。"),
    )

    brightness: float = Field(
        1.0,
        ge=0.2,
        le=3.0,
        title="Brightness",
        description="1.0 keeps the image as it is; below darkens, above brightens.",
        json_schema_extra=zh("亮度", "1.0 为原图；小于 1 变暗，大于 1 变亮。"),
    )
    contrast: float = Field(
        1.0,
        ge=0.2,
        le=3.0,
        title="Contrast",
        description="1.0 keeps the image as it is; below flattens, above strengthens.",
        json_schema_extra=zh("对比度", "1.0 为原图；小于 1 降低对比度，大于 1 增强对比度。"),
    )
    sharpness: float = Field(
        1.0,
        ge=0.0,
        le=4.0,
        title="Sharpness",
        description="1.0 keeps the image as it is; 0 blurs, above 1 sharpens.",
        json_schema_extra=zh("锐度", "1.0 为原图；0 为模糊，大于 1 锐化。"),
    )
    auto_orient: bool = Field(
        True,
        title="Auto-rotate",
        description="Turn the image the way the camera recorded it was held (EXIF orientation).",
        json_schema_extra=zh("自动旋正", "按照相机记录的拍摄方向（EXIF 方向）旋转图片。"),
    )
    max_side: int | None = Field(
        None,
        ge=16,
        le=8000,
        title="Longest side (pixels)",
        description="Shrink so that the longest side is at most this many pixels; smaller images are never enlarged.",
        json_schema_extra=zh("最长边（像素）", "缩小图片，使最长边不超过该像素数；较小的图片不会被放大。"),
    )
    white_background: bool = Field(
        False,
        title="White background",
        description="Put transparent areas on white and turn near-white pixels pure white.",
        json_schema_extra=zh("白底", "透明区域铺白底，并把接近白色的像素变为纯白。"),
    )
    background_threshold: int = Field(
        235,
        ge=200,
        le=254,
        title="White threshold",
        description="With a white background, a pixel whose channels are all at least this value becomes pure white.",
        json_schema_extra=zh("白底阈值", "开启白底时，所有通道都不低于该值的像素会变为纯白。"),
    )
    format: Literal["jpeg", "png", "webp"] = Field(
        "jpeg",
        title="Output format",
        description="JPEG for photos, PNG to keep transparency losslessly, WebP for the smallest files.",
        json_schema_extra=zh("输出格式", "照片用 JPEG；保留透明度且无损用 PNG；文件最小用 WebP。"),
    )
    quality: int = Field(
        90,
        ge=1,
        le=100,
        title="Quality",
        description="JPEG and WebP quality from 1 (smallest file) to 100 (best image); PNG ignores it.",
        json_schema_extra=zh("质量", "JPEG 与 WebP 的质量，1（文件最小）到 100（画质最好）；PNG 不使用此项。"),
    )
