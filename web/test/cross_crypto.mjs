export const OPS = {};
