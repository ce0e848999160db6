// `--part`, for the benchmarks made of parts (alerts, errors): which of them to run.

/** The parts `--part` names, every part without it; throws on a name that is no part. */
export function selectParts<P extends string>(all: readonly P[], named: string[] | undefined): P[] {
  const parts = named ?? [...all];
  const unknown = parts.filter((p) => !(all as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`--part is one of ${all.join(', ')}, not ${unknown[0]}`);
  return parts as P[];
}
