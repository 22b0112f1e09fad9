// A strict reader of the Prometheus text exposition format (0.0.4): a line that is not HELP, TYPE, blank or a well-formed sample throws.
// prom-client writes the format but does not read it; this is the test's independent check that what it wrote parses.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = "[a-zA-Z_][a-zA-Z0-9_]*";
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL_PAIR = new RegExp(`^(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`);
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Families by name; a sample belongs to the family its name is, or whose histogram/summary suffix it carries. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const familyOf = (name: string): MetricFamily => {
    let family = families.get(name);
    if (!family) {
      family = { name, type: "untyped", help: "", samples: [] };
      families.set(name, family);
    }
    return family;
  };
  if (!text.endsWith("\n")) throw new Error("the exposition does not end with a newline");
  for (const [index, line] of text.split("\n").entries()) {
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    if (line === "") continue;
    if (line.startsWith("# HELP ")) {
      const match = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
      if (!match) throw new Error(`bad HELP at ${where}`);
      familyOf(match[1]!).help = match[2]!;
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const match = new RegExp(`^# TYPE (${NAME}) (\\w+)$`).exec(line);
      if (!match || !TYPES.has(match[2]!)) throw new Error(`bad TYPE at ${where}`);
      const family = familyOf(match[1]!);
      if (family.samples.length > 0) throw new Error(`TYPE after samples at ${where}`);
      family.type = match[2]!;
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`bad sample at ${where}`);
    const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
    const value = parseValue(valueText, where);
    const labels = parseLabels(labelText ?? "", where);
    const base = /_(bucket|sum|count)$/.test(name) && families.get(name.replace(/_(bucket|sum|count)$/, ""))?.type.match(/histogram|summary/) ? name.replace(/_(bucket|sum|count)$/, "") : name;
    familyOf(base).samples.push({ name, labels, value });
  }
  return families;
}

// Prometheus reads a value with Go's strconv.ParseFloat, which takes Inf and NaN in any case: prom-client writes NaN as "Nan".
function parseValue(text: string, where: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${text} at ${where}`);
  return Number(text);
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== "") {
    const match = LABEL_PAIR.exec(rest);
    if (!match) throw new Error(`bad labels at ${where}`);
    if (match[1]! in labels) throw new Error(`label ${match[1]} twice at ${where}`);
    labels[match[1]!] = match[2]!.replace(/\\(["\\n])/g, (_all, char: string) => (char === "n" ? "\n" : char));
    rest = rest.slice(match[0].length);
    if (rest.startsWith(",")) rest = rest.slice(1);
    else if (rest !== "") throw new Error(`bad labels at ${where}`);
  }
  return labels;
}

/** The samples of `name` (a sample name, e.g. moat_request_duration_seconds_count) whose labels include `labels`. */
export function samplesOf(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): Sample[] {
  const all = [...families.values()].flatMap((family) => family.samples);
  return all.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}

/** The sum of those samples' values (0 when there are none). */
export function sumOf(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(families, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}
