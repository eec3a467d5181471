"""Schemas of the shipped samples, as recview declarative records.

Usable from the command line as ``--schema samples.schemas:Trade`` (run from
the repository root) or ``--schema samples/trades.json``.
"""

from __future__ import annotations

import recview as rv

#: Bytes of the sensor log's file header (see generate.py).
SENSOR_HEADER_NBYTES = 64


class Trade(rv.Record):
    """A 32-byte little-endian trade tick."""

    ts: rv.u64  # nanoseconds since the epoch
    price: rv.f64
    qty: rv.u32
    side: rv.u8  # 0 buy, 1 sell
    _pad: rv.pad(3)
    venue: rv.bytes_(8)


class Sensor(rv.Record):
    """A 24-byte big-endian sensor reading (after a 64-byte file header)."""

    ts: rv.u64be  # milliseconds since the epoch
    sensor_id: rv.u16be
    status: rv.u8
    _pad: rv.pad(1)
    temperature: rv.f32be  # degrees Celsius
    pressure: rv.f32be  # hPa
    humidity: rv.f32be  # percent


PARTICLE_H = """\
#include <stdint.h>
#define NFLAGS 4
#define NAME_LEN 12

struct vec3 { float x, y, z; };

/* one simulation particle, as written by fwrite(&p, sizeof p, 1, f) */
struct particle {
    uint64_t id;
    char name[NAME_LEN];
    struct vec3 pos;
    struct vec3 vel;
    int16_t flags[NFLAGS];
    double mass;
};
"""


class Vec3(rv.Record, align=True):
    x: rv.f32
    y: rv.f32
    z: rv.f32


class Particle(rv.Record, align=True):
    """A 64-byte record with nested structs, fixed arrays and char[N] (C layout)."""

    id: rv.u64
    name: rv.bytes_(12)
    pos: Vec3
    vel: Vec3
    flags: rv.array(rv.i16, 4)
    mass: rv.f64
