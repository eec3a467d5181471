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
