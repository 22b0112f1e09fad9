// A short word in a coloured pill (a certificate's state, an edge's health, an invalidation's progress), never colour alone: the word says it.
const TONES: Readonly<Record<string, string>> = {
  active: "good",
  ok: "good",
  applied: "good",
  usable: "good",
  used: "muted",
  imported: "info",
  next: "info",
  pending: "warn",
  behind: "warn",
  "not-yet-valid": "warn",
  silent: "bad",
  retired: "muted",
  "not-waited-for": "muted",
  gone: "muted",
  stopped: "muted",
  expired: "bad",
  revoked: "bad",
  viewer: "muted",
  operator: "info",
  admin: "warn",
};

export function StateBadge(props: { state: string; label?: string }) {
  return <span class={`badge badge-${TONES[props.state] ?? "muted"}`}>{props.label ?? props.state}</span>;
}
