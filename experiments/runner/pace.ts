// How fast a simulator run may be paced: virtual seconds per real second, declared once for the
// runner, the lab API's checks and the command line.

/** The range of a simulator run's pace (or as fast as possible). */
export const SPEED_RANGE = { min: 0.01, max: 1000 } as const;
