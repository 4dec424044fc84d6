// A module of the program's own, imported relatively.
export function scale(value, factor) {
  return value * factor;
}
