"""Procedural 3D-shapes scenes with known generative factors, rendered by numpy ray casting.

A data set in the spirit of 3DShapes (Burgess & Kim 2018), written from scratch: a camera orbits a room corner
with an object on the floor, and six factors fully determine each image:

    factor        values                          what changes in the picture
    floor_hue     10 hues in [0, 1)               colour of the floor
    wall_hue      10 hues in [0, 1)               colour of both walls
    object_hue    10 hues in [0, 1)               colour of the object
    scale         8 sizes in [0.75, 1.25]         size of the object
    shape         cube, cylinder, sphere, capsule silhouette of the object
    orientation   15 angles in [-30, 30] degrees  camera azimuth: the wall corner and the cube's faces move

Every pixel is a ray from a pinhole camera intersected analytically with the floor plane, two walls and the
object (a rotated box, a capped cylinder, a sphere or a capsule); surfaces are Lambertian under one directional
light plus ambient, the object adds a specular highlight, and the object casts a shadow onto the floor and
walls. Pixels are supersampled and averaged in linear light, then gamma-encoded, so edges are anti-aliased and
the same factors always give the same bytes.

Usage:
    python -m infodiff.shapes --size 64 --out runs/shapes_contact_sheet.png   # contact sheet to look at
"""
from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

FACTOR_NAMES: tuple[str, ...] = ('floor_hue', 'wall_hue', 'object_hue', 'scale', 'shape', 'orientation')
FACTOR_SIZES: tuple[int, ...] = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES: tuple[str, ...] = ('cube', 'cylinder', 'sphere', 'capsule')
HUE_VALUES = np.arange(10) / 10.0
SCALE_VALUES = np.linspace(0.75, 1.25, 8)
ORIENTATION_DEGREES = np.linspace(-30.0, 30.0, 15)

# Scene layout in world units: floor y = 0, object centred on the y axis, camera orbiting the y axis.
_CAMERA_DISTANCE = 4.0
_CAMERA_HEIGHT = 1.9
_LOOK_AT = np.array([0.0, 0.8, 0.0])
_VERTICAL_FOV_DEGREES = 42.0
_WALL_DISTANCE = 2.6  # distance from the object to each wall; the corner is straight behind the object
_LIGHT_DIRECTION = np.array([-0.45, 1.0, 0.55]) / np.linalg.norm([-0.45, 1.0, 0.55])
_AMBIENT = 0.32
_SHADOW_KEEP = 0.45  # fraction of direct light left in the object's shadow
_CUBE_YAW = np.deg2rad(25.0)  # the cube is turned against the walls so its faces shade differently
# Object half-height at scale 1; each shape is proportioned to fill a similar area.
_CUBE_HALF = 0.6
_CYLINDER_RADIUS, _CYLINDER_HALF_HEIGHT = 0.55, 0.65
_SPHERE_RADIUS = 0.72
_CAPSULE_RADIUS, _CAPSULE_HALF_SEGMENT = 0.44, 0.45

_INF = np.float64(np.inf)
_RAYS_PER_CHUNK = 32768


def factor_values(factors: np.ndarray) -> dict[str, np.ndarray]:
    """Physical values of factor indices.

    Args:
        factors: int [N, 6] value indices in FACTOR_NAMES order.
    Returns:
        Dict of [N] arrays: hues in [0, 1), scale, shape index, orientation in degrees.
    """
    factors = _check_factors(factors)
    return {
        'floor_hue': HUE_VALUES[factors[:, 0]],
        'wall_hue': HUE_VALUES[factors[:, 1]],
        'object_hue': HUE_VALUES[factors[:, 2]],
        'scale': SCALE_VALUES[factors[:, 3]],
        'shape': factors[:, 4].copy(),
        'orientation': ORIENTATION_DEGREES[factors[:, 5]],
    }


def render(factors: Sequence[int], image_size: int = 64) -> np.ndarray:
    """Renders one scene.

    Args:
        factors: 6 value indices in FACTOR_NAMES order, each in range(FACTOR_SIZES[i]).
        image_size: output height and width in pixels.
    Returns:
        uint8 [image_size, image_size, 3] RGB image.
    """
    return render_batch(np.asarray(factors, dtype=np.int64)[None, :], image_size)[0]


def render_batch(factors: np.ndarray, image_size: int = 64, supersample: int | None = None) -> np.ndarray:
    """Renders a batch of scenes (vectorised over images and pixels).

    Args:
        factors: int [N, 6] value indices in FACTOR_NAMES order.
        image_size: output height and width in pixels.
        supersample: rays per pixel along each axis; default 3 up to 32 px, else 2.
    Returns:
        uint8 [N, image_size, image_size, 3] RGB images.
    """
    factors = _check_factors(factors)
    if image_size < 8:
        raise ValueError(f'image_size must be >= 8, got {image_size}')
    ss = supersample if supersample is not None else (3 if image_size <= 32 else 2)
    rays_per_side = image_size * ss
    out = np.empty((len(factors), image_size, image_size, 3), dtype=np.uint8)
    # A few images at a time: the ray arrays then stay in cache, which is about twice as fast as one big batch.
    images_per_chunk = max(1, _RAYS_PER_CHUNK // rays_per_side ** 2)
    for start in range(0, len(factors), images_per_chunk):
        values = factor_values(factors[start:start + images_per_chunk])
        n = len(values['shape'])
        origins, directions = _camera_rays(np.deg2rad(values['orientation']), rays_per_side)  # [n,P,3] each
        linear = _shade(origins, directions, values)  # [n,P,3] linear RGB
        linear = linear.reshape(n, image_size, ss, image_size, ss, 3).mean(axis=(2, 4))
        srgb = np.clip(linear, 0.0, 1.0) ** (1.0 / 2.2)
        out[start:start + n] = np.round(srgb * 255.0).astype(np.uint8)
    return out


def full_grid(fixed: Mapping[str, Sequence[int]] | None = None) -> np.ndarray:
    """All factor combinations, optionally restricting some factors to given value indices.

    Args:
        fixed: factor name -> allowed value indices, e.g. {'floor_hue': [0], 'wall_hue': [3]}.
    Returns:
        int [M, 6] value indices, in row-major order over FACTOR_NAMES.
    """
    fixed = dict(fixed or {})
    unknown = sorted(set(fixed) - set(FACTOR_NAMES))
    if unknown:
        raise ValueError(f'unknown factor(s) {unknown}; factors are {list(FACTOR_NAMES)}')
    axes = []
    for name, size in zip(FACTOR_NAMES, FACTOR_SIZES):
        allowed = np.asarray(fixed.get(name, range(size)), dtype=np.int64)
        if allowed.size == 0 or allowed.min() < 0 or allowed.max() >= size:
            raise ValueError(f'{name} indices must be a non-empty subset of 0..{size - 1}, got {allowed.tolist()}')
        axes.append(np.unique(allowed))
    return np.array(list(itertools.product(*axes)), dtype=np.int64).reshape(-1, len(FACTOR_NAMES))


@dataclass
class ShapesDataset:
    """A rendered subset of the shapes factor space.

    With `n` set, draws n factor combinations uniformly at random: the first n of a seeded permutation of the
    grid (so smaller draws are prefixes of larger ones with the same seed), with replacement only when n exceeds
    the grid; with `n=None`, renders the full grid of the allowed values (`fixed` restricts factors, see
    `full_grid`; the unrestricted grid has 480,000 images).

    Attributes:
        images: uint8 [N, H, W, 3] RGB.
        factors: int64 [N, 6] value indices in FACTOR_NAMES order.
    """

    image_size: int = 64
    n: int | None = 1000
    seed: int = 0
    fixed: Mapping[str, Sequence[int]] | None = None

    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES

    def __post_init__(self) -> None:
        grid = full_grid(self.fixed)
        if self.n is None:
            self.factors = grid
        else:
            if self.n < 1:
                raise ValueError(f'n must be >= 1 or None for the full grid, got {self.n}')
            rng = np.random.default_rng(self.seed)
            if self.n <= len(grid):
                # A prefix of one seeded permutation: the first k scenes are the same whatever n is, so a scene's
                # index means the same thing to every command that renders part of the draw.
                self.factors = grid[rng.permutation(len(grid))[:self.n]]
            else:
                self.factors = grid[rng.choice(len(grid), size=self.n, replace=True)]
        self.images = render_batch(self.factors, self.image_size)

    def __len__(self) -> int:
        return len(self.factors)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(image uint8 [H, W, 3], factor indices int64 [6])."""
        return self.images[index], self.factors[index]

    def model_space(self) -> np.ndarray:
        """Images as float32 [N, H, W, 3] in [-1, 1] (u8 u -> u / 127.5 - 1), NHWC."""
        return self.images.astype(np.float32) / 127.5 - 1.0


# --------------------------------------------------------------------------------------------- internals


def _check_factors(factors: np.ndarray) -> np.ndarray:
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_NAMES):
        raise ValueError(f'factors must have shape [N, {len(FACTOR_NAMES)}], got {list(factors.shape)}')
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f'factors must be integer value indices, got dtype {factors.dtype}')
    for i, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES)):
        column = factors[:, i]
        if column.size and (column.min() < 0 or column.max() >= size):
            raise ValueError(f'{name} index must be in 0..{size - 1}, got values {np.unique(column).tolist()}')
    return factors.astype(np.int64)


def _hue_to_rgb(hue: np.ndarray, saturation: float, value: float) -> np.ndarray:
    """HSV -> linear RGB for an array of hues [N] -> [N, 3]."""
    h6 = (hue % 1.0) * 6.0
    channel_offsets = np.array([5.0, 3.0, 1.0])  # standard HSV formula: f(n) = v - v s max(0, min(k, 4 - k, 1))
    k = (channel_offsets[None, :] + h6[:, None]) % 6.0
    rgb_srgb = value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return rgb_srgb ** 2.2  # the palette is chosen in display space; shading happens in linear light


def _camera_rays(azimuth: np.ndarray, rays_per_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole rays through a square grid of sub-pixel centres.

    Args:
        azimuth: [N] camera angle around the y axis in radians (0 looks straight at the wall corner).
    Returns:
        origins, directions: float64 [N, P, 3], P = rays_per_side**2, directions unit length, row-major pixels
        (row 0 at the top).
    """
    n = len(azimuth)
    eye = np.stack([_CAMERA_DISTANCE * np.sin(azimuth), np.full(n, _CAMERA_HEIGHT),
                    _CAMERA_DISTANCE * np.cos(azimuth)], -1)
    forward = _LOOK_AT[None, :] - eye
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, np.array([0.0, 1.0, 0.0])[None, :])
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    up = np.cross(right, forward)
    half_extent = np.tan(np.deg2rad(_VERTICAL_FOV_DEGREES) / 2.0)
    centres = (np.arange(rays_per_side) + 0.5) / rays_per_side * 2.0 - 1.0  # -1 .. 1
    screen_x, screen_y = np.meshgrid(centres * half_extent, -centres * half_extent)  # y flips: row 0 is the top
    screen_x, screen_y = screen_x.reshape(-1), screen_y.reshape(-1)
    directions = (forward[:, None, :] + screen_x[None, :, None] * right[:, None, :]
                  + screen_y[None, :, None] * up[:, None, :])
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    origins = np.broadcast_to(eye[:, None, :], directions.shape)
    return origins, directions


def _intersect_plane(origins: np.ndarray, directions: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Ray parameter t of the plane normal . p = offset, hit from the side the normal points to; inf if missed."""
    denom = directions @ normal
    with np.errstate(divide='ignore', invalid='ignore'):
        t = (offset - origins @ normal) / denom
    return np.where((denom < -1e-9) & (t > 1e-6), t, _INF)


def _intersect_sphere(origins: np.ndarray, directions: np.ndarray, centre: np.ndarray, radius: np.ndarray,
                      allow_inside: bool = False):
    """Nearest positive hit of spheres (per-ray centre [M,3], radius [M]); returns t [M] (inf if missed), normal.

    With allow_inside, a ray starting inside the sphere counts as a hit (t = 0): used for bounding tests.
    """
    oc = origins - centre
    b = np.einsum('ij,ij->i', oc, directions)
    c = np.einsum('ij,ij->i', oc, oc) - radius ** 2
    disc = b * b - c
    root = np.sqrt(np.maximum(disc, 0.0))
    t_near, t_far = -b - root, -b + root
    t = np.where(t_near > 1e-6, t_near, np.where(t_far > 1e-6, t_far, _INF))
    if allow_inside:
        t = np.where(c <= 0.0, 0.0, t)
    t = np.where((disc >= 0.0) | (allow_inside & (c <= 0.0)), t, _INF)
    normal = (origins + np.where(np.isfinite(t), t, 0.0)[:, None] * directions - centre) / radius[:, None]
    return t, normal


def _intersect_vertical_cylinder_side(origins, directions, radius, y_low, y_high):
    """Nearest hit of the curved side of a y-axis cylinder between heights y_low and y_high."""
    a = directions[:, 0] ** 2 + directions[:, 2] ** 2
    b = origins[:, 0] * directions[:, 0] + origins[:, 2] * directions[:, 2]
    c = origins[:, 0] ** 2 + origins[:, 2] ** 2 - radius ** 2
    disc = b * b - a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(divide='ignore', invalid='ignore'):
        candidates = np.stack([(-b - root) / a, (-b + root) / a], -1)
    heights = origins[:, 1:2] + candidates * directions[:, 1:2]
    valid = (disc[:, None] >= 0.0) & (a[:, None] > 1e-12) & (candidates > 1e-6)
    valid &= (heights >= y_low[:, None]) & (heights <= y_high[:, None])
    t = np.where(valid, candidates, _INF).min(axis=1)
    hit = origins + np.where(np.isfinite(t), t, 0.0)[:, None] * directions
    normal = np.stack([hit[:, 0], np.zeros_like(t), hit[:, 2]], -1) / radius[:, None]
    return t, normal


def _intersect_object(origins, directions, shape, scale):
    """Hits of the object for rays whose scene has the given shape index [M] and scale [M]; t [M], normal [M,3].

    Most rays miss the object, so each ray is first tested against the shape's bounding sphere and only the
    rays that hit it pay for the exact intersection (this is most of the rendering time otherwise).
    """
    t = np.full(len(origins), _INF)
    normal = np.zeros_like(origins)
    for shape_index in np.unique(shape):
        name = SHAPE_NAMES[shape_index]
        rows = np.flatnonzero(shape == shape_index)
        s = scale[rows]
        centre_height, bound_radius = _bounding_sphere(name, s)
        zeros = np.zeros_like(s)
        t_bound, _ = _intersect_sphere(origins[rows], directions[rows], np.stack([zeros, centre_height, zeros], -1),
                                       bound_radius, allow_inside=True)
        rows = rows[np.isfinite(t_bound)]
        o, d, s = origins[rows], directions[rows], scale[rows]
        if name == 'sphere':
            radius = _SPHERE_RADIUS * s
            centre = np.stack([np.zeros_like(s), radius, np.zeros_like(s)], -1)
            t_shape, n_shape = _intersect_sphere(o, d, centre, radius)
        elif name == 'cube':
            t_shape, n_shape = _intersect_cube(o, d, _CUBE_HALF * s)
        elif name == 'cylinder':
            t_shape, n_shape = _intersect_cylinder(o, d, _CYLINDER_RADIUS * s, 2.0 * _CYLINDER_HALF_HEIGHT * s)
        else:
            t_shape, n_shape = _intersect_capsule(o, d, _CAPSULE_RADIUS * s, _CAPSULE_HALF_SEGMENT * s)
        t[rows], normal[rows] = t_shape, n_shape
    return t, normal


def _bounding_sphere(name: str, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre height and radius [M] of a sphere enclosing the object (slightly padded)."""
    if name == 'sphere':
        height, radius = _SPHERE_RADIUS * scale, _SPHERE_RADIUS * scale
    elif name == 'cube':
        height, radius = _CUBE_HALF * scale, np.sqrt(3.0) * _CUBE_HALF * scale
    elif name == 'cylinder':
        height = _CYLINDER_HALF_HEIGHT * scale
        radius = np.hypot(_CYLINDER_RADIUS, _CYLINDER_HALF_HEIGHT) * scale
    else:
        height = (_CAPSULE_RADIUS + _CAPSULE_HALF_SEGMENT) * scale
        radius = (_CAPSULE_RADIUS + _CAPSULE_HALF_SEGMENT) * scale
    return height, radius * 1.01


def _intersect_cube(origins, directions, half):
    """Slab test against a cube of half-size `half` [M] resting on the floor, turned by _CUBE_YAW about y."""
    cos_yaw, sin_yaw = np.cos(_CUBE_YAW), np.sin(_CUBE_YAW)
    to_local = np.array([[cos_yaw, 0.0, -sin_yaw], [0.0, 1.0, 0.0], [sin_yaw, 0.0, cos_yaw]])
    centre = np.stack([np.zeros_like(half), half, np.zeros_like(half)], -1)
    o = (origins - centre) @ to_local.T
    d = directions @ to_local.T
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
    t1 = (-half[:, None] - o) * inv
    t2 = (half[:, None] - o) * inv
    t_min_axes = np.minimum(t1, t2)
    t_near = t_min_axes.max(axis=1)
    t_far = np.maximum(t1, t2).min(axis=1)
    hit = (t_near <= t_far) & (t_far > 1e-6)
    t = np.where(hit, np.where(t_near > 1e-6, t_near, t_far), _INF)
    entry_axis = t_min_axes.argmax(axis=1)
    local_normal = np.zeros_like(o)
    local_normal[np.arange(len(o)), entry_axis] = -np.sign(d[np.arange(len(o)), entry_axis])
    return t, local_normal @ to_local  # back to world (to_local is orthonormal)


def _intersect_cylinder(origins, directions, radius, height):
    """Capped y-axis cylinder of given radius [M] standing on the floor with the given height [M]."""
    t_side, n_side = _intersect_vertical_cylinder_side(origins, directions, radius, np.zeros_like(radius), height)
    with np.errstate(divide='ignore', invalid='ignore'):
        t_cap = (height - origins[:, 1]) / directions[:, 1]
    cap_point = origins + np.where(np.isfinite(t_cap), t_cap, 0.0)[:, None] * directions
    on_cap = (directions[:, 1] < 0) & (t_cap > 1e-6) & (cap_point[:, 0] ** 2 + cap_point[:, 2] ** 2 <= radius ** 2)
    t_cap = np.where(on_cap, t_cap, _INF)
    use_cap = t_cap < t_side
    t = np.where(use_cap, t_cap, t_side)
    normal = np.where(use_cap[:, None], np.array([0.0, 1.0, 0.0]), n_side)
    return t, normal


def _intersect_capsule(origins, directions, radius, half_segment):
    """Upright capsule: a y-axis segment of half-length half_segment [M] swept by radius [M], on the floor."""
    y_low = radius
    y_high = radius + 2.0 * half_segment
    zeros = np.zeros_like(radius)
    t_side, n_side = _intersect_vertical_cylinder_side(origins, directions, radius, y_low, y_high)
    t_bottom, n_bottom = _intersect_sphere(origins, directions, np.stack([zeros, y_low, zeros], -1), radius)
    t_top, n_top = _intersect_sphere(origins, directions, np.stack([zeros, y_high, zeros], -1), radius)
    stacked_t = np.stack([t_side, t_bottom, t_top], -1)
    choice = stacked_t.argmin(axis=1)
    normals = np.stack([n_side, n_bottom, n_top], 1)
    rows = np.arange(len(origins))
    return stacked_t[rows, choice], normals[rows, choice]


def _shade(origins: np.ndarray, directions: np.ndarray, values: dict[str, np.ndarray]) -> np.ndarray:
    """Linear RGB [N, P, 3] of every ray: nearest of floor, two walls and object, lit with shadows."""
    n, p, _ = directions.shape
    o = origins.reshape(-1, 3)
    d = directions.reshape(-1, 3)

    def per_ray(per_image: np.ndarray) -> np.ndarray:
        return np.repeat(per_image, p, axis=0)

    shape, scale = per_ray(values['shape']), per_ray(values['scale'])

    inv_sqrt2 = 1.0 / np.sqrt(2.0)
    wall_normals = (np.array([inv_sqrt2, 0.0, inv_sqrt2]), np.array([-inv_sqrt2, 0.0, inv_sqrt2]))
    floor_normal = np.array([0.0, 1.0, 0.0])
    t_floor = _intersect_plane(o, d, floor_normal, 0.0)
    t_wall_a = _intersect_plane(o, d, wall_normals[0], -_WALL_DISTANCE)
    t_wall_b = _intersect_plane(o, d, wall_normals[1], -_WALL_DISTANCE)
    t_object, n_object = _intersect_object(o, d, shape, scale)
    stacked = np.stack([t_floor, t_wall_a, t_wall_b, t_object], -1)
    surface = stacked.argmin(axis=1)  # 0 floor, 1 wall A, 2 wall B, 3 object
    t_hit = stacked[np.arange(len(d)), surface]
    t_hit = np.where(np.isfinite(t_hit), t_hit, 50.0)  # cannot happen inside the room; keeps arithmetic finite
    hit_point = o + t_hit[:, None] * d

    normal = np.select(
        [surface[:, None] == 0, surface[:, None] == 1, surface[:, None] == 2],
        [floor_normal[None, :], wall_normals[0][None, :], wall_normals[1][None, :]],
        default=n_object,
    )
    albedo = np.select(
        [surface[:, None] == 0, surface[:, None] == 3],
        [per_ray(_hue_to_rgb(values['floor_hue'], 0.55, 0.95)), per_ray(_hue_to_rgb(values['object_hue'], 0.85, 1.0))],
        default=per_ray(_hue_to_rgb(values['wall_hue'], 0.45, 0.9)),
    )

    diffuse = np.clip(normal @ _LIGHT_DIRECTION, 0.0, None)
    # Shadow rays start slightly off the surface so a surface never shadows itself.
    shadow_origins = hit_point + 1e-4 * normal
    t_blocker, _ = _intersect_object(shadow_origins, np.broadcast_to(_LIGHT_DIRECTION, d.shape).copy(), shape, scale)
    lit = np.where((surface != 3) & np.isfinite(t_blocker), _SHADOW_KEEP, 1.0)

    # Room surfaces darken towards the corner and with depth, a cheap stand-in for ambient occlusion.
    corner_distance = (np.abs(hit_point[:, 0]) + hit_point[:, 2] + _WALL_DISTANCE * np.sqrt(2.0)) * inv_sqrt2
    nearest_edge = np.minimum(corner_distance, hit_point[:, 1] + 0.4)
    occlusion = np.where(surface == 3, 1.0, 0.75 + 0.25 * np.tanh(1.2 * nearest_edge))
    object_distance = np.sqrt(hit_point[:, 0] ** 2 + hit_point[:, 2] ** 2)
    contact = np.where(surface == 0, 0.7 + 0.3 * np.tanh(3.0 * object_distance / (0.6 * scale)), 1.0)

    colour = albedo * (_AMBIENT * occlusion * contact + (1.0 - _AMBIENT) * diffuse * lit)[:, None]
    half_vector = _LIGHT_DIRECTION[None, :] - d
    half_vector /= np.linalg.norm(half_vector, axis=-1, keepdims=True)
    specular = np.where(surface == 3, 0.35 * np.clip(np.einsum('ij,ij->i', normal, half_vector), 0.0, 1.0) ** 40, 0.0)
    colour = colour + specular[:, None]
    return colour.reshape(n, p, 3)


# --------------------------------------------------------------------------------------------- CLI


def contact_sheet(factors: np.ndarray, image_size: int, columns: int) -> np.ndarray:
    """Renders factors [N, 6] into one uint8 grid [rows*(S+2), columns*(S+2), 3] with 2-pixel gutters."""
    images = render_batch(factors, image_size)
    rows = int(np.ceil(len(images) / columns))
    cell = image_size + 2
    sheet = np.full((rows * cell, columns * cell, 3), 24, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * cell + 1:r * cell + 1 + image_size, c * cell + 1:c * cell + 1 + image_size] = image
    return sheet


def _demo_factors(seed: int) -> np.ndarray:
    """Rows that each vary one factor from a random base (rows in FACTOR_NAMES order), then random scenes."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, size in enumerate(FACTOR_SIZES):
        base = np.array([rng.integers(s) for s in FACTOR_SIZES])
        for k in range(10):
            f = base.copy()
            # Ordered factors sweep their range left to right; the four shapes cycle.
            f[i] = k % size if FACTOR_NAMES[i] == 'shape' else round(k * (size - 1) / 9)
            rows.append(f)
    rows.extend(np.array([rng.integers(s) for s in FACTOR_SIZES]) for _ in range(20))
    return np.array(rows, dtype=np.int64)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description='Render a contact sheet of procedural shapes scenes.')
    parser.add_argument('--size', type=int, default=64, help='image size in pixels')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', type=Path, default=Path('runs/shapes_contact_sheet.png'))
    args = parser.parse_args(argv)
    from PIL import Image

    sheet = contact_sheet(_demo_factors(args.seed), args.size, columns=10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out)
    print(f'wrote {args.out}: rows 1-6 vary {", ".join(FACTOR_NAMES)} one at a time; rows 7-8 are random scenes')


if __name__ == '__main__':
    main()
