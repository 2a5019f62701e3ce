"""Training data held in memory as uint8 tensors: FashionMNIST, the procedural shapes, or a folder of images.

Every loader returns an ``ImageDataset``: images uint8 [N, C, H, W] at the model's size, plus whatever labels or
generative factors the data has (kept for metrics and attribute directions). ``batch(indices)`` turns a gather of
rows into model space, u / 127.5 - 1 in [-1, 1] (docs/model-format.md, ``preprocessing.valueRange``). Holding
uint8 keeps FashionMNIST at 61 MB and makes a batch one index gather: no loader workers are needed.
"""
from __future__ import annotations

import functools
import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from PIL import Image

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SHAPES_DEFAULT_SIZE = 48000  # scenes rendered for 'shapes' training when dataset_size is 0 (10% of the full grid)
SHAPES_TEST_SEED_OFFSET = 1000  # the held-out shapes split is drawn with seed + this


class DataError(RuntimeError):
    """Missing or unreadable data, with what to install or where to look."""


@dataclass
class ImageDataset:
    name: str  # 'fashion-mnist', 'shapes' or the folder's name
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: Optional[np.ndarray]  # int64 [N] class index, or None
    label_names: Optional[List[str]]  # class index -> name
    factors: Optional[np.ndarray]  # int64 [N, K] generative-factor value indices (shapes), or None
    factor_names: Optional[List[str]]  # K factor names
    light_on_dark: bool  # light objects on a dark background (FashionMNIST)
    factor_value_names: Dict[str, List[str]] = field(default_factory=dict)  # names of categorical factors' values

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[2]

    def batch(self, indices: torch.Tensor, device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Rows ``indices`` (int64 [B]) as [B, C, H, W] in [-1, 1] on ``device``."""
        return to_model_space(self.images[indices].to(device), dtype)

    def describe(self, index: int) -> str:
        """A short human label for one image (class name, or the factor values), used for gallery captions."""
        if self.labels is not None and self.label_names is not None:
            return self.label_names[int(self.labels[index])]
        if self.factors is not None and self.factor_names is not None:
            named = [self.factor_value_names[n][int(v)] for n, v in zip(self.factor_names, self.factors[index])
                     if n in self.factor_value_names]
            ordinal = [f"{n} {int(v)}" for n, v in zip(self.factor_names, self.factors[index])
                       if n not in self.factor_value_names]
            return "; ".join(named + [", ".join(ordinal)]) if named else ", ".join(ordinal)
        return f"image {index}"


def to_model_space(images_u8: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 -> u / 127.5 - 1, the model-space convention shared with the web runtime."""
    return images_u8.to(dtype) / 127.5 - 1


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise DataError(f"{path} is not an IDX file of the expected kind (magic {magic:#x}, wanted {expected_magic:#x})")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def resize_u8(images: np.ndarray, size: int, resample: int = Image.BILINEAR) -> np.ndarray:
    """Resizes uint8 [N, H, W] or [N, H, W, 3] images with PIL, one by one (what torchvision's Resize does on PIL
    images); returns uint8 [N, size, size(, 3)]. No-op when the size already matches."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return np.stack([np.asarray(Image.fromarray(image).resize((size, size), resample)) for image in images])


def load_fashion_mnist(data_dir: str = "", split: str = "train", image_size: int = 32,
                       limit: int = 0) -> ImageDataset:
    """FashionMNIST from the IDX .gz files, resized 28 -> image_size with PIL bilinear as the official loader
    does (``transforms.Resize`` on PIL images, then ``ToTensor`` and 2t - 1); ``limit`` > 0 keeps the first rows."""
    root = Path(data_dir or FASHION_MNIST_DIR)
    image_file, label_file = FASHION_MNIST_FILES[split]
    missing = [name for name in (image_file, label_file) if not (root / name).is_file()]
    if missing:
        raise DataError(
            f"FashionMNIST file(s) {', '.join(missing)} not found in {root}. On Debian/Ubuntu install them with "
            f"`apt-get install dataset-fashion-mnist` (to {FASHION_MNIST_DIR}), or pass --data_dir=<folder with the IDX .gz files>")
    images = _read_idx(root / image_file, 0x803)
    labels = _read_idx(root / label_file, 0x801).astype(np.int64)
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    images = resize_u8(images, image_size)
    return ImageDataset(
        name="fashion-mnist",
        images=torch.from_numpy(np.ascontiguousarray(images[:, None, :, :])),
        labels=labels, label_names=list(FASHION_MNIST_CLASSES), factors=None, factor_names=None,
        light_on_dark=True)


def load_shapes(split: str = "train", image_size: int = 32, size: int = 0, seed: int = 0) -> ImageDataset:
    """The procedural shapes scenes of infodiff.shapes (RGB), ``size`` scenes drawn with ``seed`` (the test
    split uses another seed). Imported lazily: the renderer is another module's job and costs time to import."""
    try:
        from . import shapes
    except ImportError as err:
        raise DataError(f"the 'shapes' dataset needs infodiff/shapes.py, which could not be imported: {err}") from None
    count = size or SHAPES_DEFAULT_SIZE
    draw_seed = seed + (SHAPES_TEST_SEED_OFFSET if split == "test" else 0)
    rendered = shapes.ShapesDataset(image_size=image_size, n=count, seed=draw_seed)
    images = np.ascontiguousarray(np.transpose(rendered.images, (0, 3, 1, 2)))
    return ImageDataset(
        name="shapes", images=torch.from_numpy(images), labels=None, label_names=None,
        factors=np.asarray(rendered.factors, dtype=np.int64), factor_names=list(shapes.FACTOR_NAMES),
        light_on_dark=False, factor_value_names={"shape": list(shapes.SHAPE_NAMES)})


def _centre_crop_resize(image: Image.Image, size: int) -> Image.Image:
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    # PIL's resize widens its filter when shrinking, so downscaling is antialiased.
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)


def load_image_folder(data_dir: str, image_size: int, channels: int, limit: int = 0) -> ImageDataset:
    """Every PNG/JPEG under ``data_dir`` (recursive, sorted), centre-cropped to a square and resized.

    Images become grayscale (ITU-R BT.601 luma, PIL's 'L') or RGB per ``channels``. When every image sits in a
    first-level subfolder, the subfolder names are the class labels. The background polarity is guessed from
    the border: light-on-dark when the border is darker than the image mean.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if limit > 0:
        files = files[:limit]
    if not files:
        raise DataError(f"no .png/.jpg/.jpeg images under {root}")
    mode = "L" if channels == 1 else "RGB"
    arrays = []
    for path in files:
        try:
            with Image.open(path) as image:
                arrays.append(np.asarray(_centre_crop_resize(image.convert(mode), image_size)))
        except OSError as err:
            raise DataError(f"cannot read image {path}: {err}") from None
    stacked = np.stack(arrays)
    images = stacked[:, None] if channels == 1 else np.transpose(stacked, (0, 3, 1, 2))
    relative = [p.relative_to(root).parts for p in files]
    labels = label_names = None
    if all(len(parts) >= 2 for parts in relative):
        label_names = sorted({parts[0] for parts in relative})
        labels = np.array([label_names.index(parts[0]) for parts in relative], dtype=np.int64)
    border = np.concatenate([images[:, :, 0, :].ravel(), images[:, :, -1, :].ravel(),
                             images[:, :, :, 0].ravel(), images[:, :, :, -1].ravel()])
    return ImageDataset(
        name=root.name, images=torch.from_numpy(np.ascontiguousarray(images)), labels=labels,
        label_names=label_names, factors=None, factor_names=None,
        light_on_dark=bool(border.mean() < images.mean()))


def load_dataset(dataset: str, data_dir: str, image_size: int, channels: int, split: str = "train",
                 size: int = 0, seed: int = 0) -> ImageDataset:
    """Dispatches on the TrainConfig dataset name. ``size`` > 0 limits (or, for shapes, sets) the image count.

    'folder' has no separate test split: both splits return the whole folder.
    """
    if dataset == "fashion-mnist":
        return load_fashion_mnist(data_dir, split, image_size, size)
    if dataset == "shapes":
        if channels != 3:
            raise DataError("the shapes scenes are RGB: architecture.imageChannels must be 3")
        return load_shapes(split, image_size, size, seed)
    if dataset == "folder":
        if not data_dir:
            raise DataError("dataset 'folder' needs --data_dir=<folder of images>")
        return load_image_folder(data_dir, image_size, channels, size)
    raise DataError(f"unknown dataset {dataset!r}")


def balanced_indices(dataset: ImageDataset, count: int, seed: int = 0) -> List[int]:
    """``count`` distinct row indices spread evenly over the classes (or, without labels, over the values of
    the first categorical factor such as the shapes' object shape): round robin over the groups in index order,
    each group's rows shuffled with ``seed``. With neither, the first ``count`` rows of a seeded shuffle."""
    rng = np.random.default_rng(seed)
    groups = dataset.labels
    if groups is None and dataset.factors is not None and dataset.factor_names is not None:
        categorical = [k for k, name in enumerate(dataset.factor_names) if name in dataset.factor_value_names]
        groups = dataset.factors[:, categorical[0]] if categorical else None
    if groups is None:
        return [int(i) for i in rng.permutation(len(dataset))[:count]]
    per_group = {g: list(rng.permutation(np.flatnonzero(groups == g))) for g in np.unique(groups)}
    chosen: List[int] = []
    while len(chosen) < min(count, len(dataset)):
        for g in sorted(per_group):
            if per_group[g] and len(chosen) < count:
                chosen.append(int(per_group[g].pop(0)))
    return chosen


@functools.lru_cache(maxsize=2)
def epoch_permutation(num_items: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of one epoch: a permutation that depends only on (seed, epoch), so resuming at any step
    reproduces the order without saving it. Cached (a pure function) so a step does not redo the shuffle;
    callers must not modify the returned tensor."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_items, generator=generator)


def global_batch_indices(num_items: int, batch_size: int, seed: int, step: int) -> Sequence[int]:
    """Row indices of the global batch used at optimiser step ``step`` (epochs of num_items // batch_size full
    batches; the remainder of each shuffled epoch is dropped, as with drop_last)."""
    per_epoch = num_items // batch_size
    if per_epoch < 1:
        raise DataError(f"the dataset has {num_items} images, fewer than one batch of {batch_size}")
    epoch, position = divmod(step, per_epoch)
    order = epoch_permutation(num_items, seed, epoch)
    return order[position * batch_size:(position + 1) * batch_size]
