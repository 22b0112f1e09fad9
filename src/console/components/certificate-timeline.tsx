// One certificate name's generations on a time axis (issued, next, retired, revoked), with today marked: when each was valid, which one an edge presents now, and when Moat renews it (a diamond on its bar).
import type { Certificate } from "../api/types.ts";
import { formatTime } from "../format.ts";

const WIDTH = 640;
const LABEL = 120;
const ROW = 22;
const AXIS = 22;

/** A bar per certificate, oldest at the top; the axis spans them all (and now). */
export function CertificateTimeline(props: { certificates: readonly Certificate[]; name: string; now?: number }) {
  const now = props.now ?? Date.now();
  const rows = [...props.certificates].sort((a, b) => Date.parse(a.notBefore) - Date.parse(b.notBefore));
  if (rows.length === 0) return null;
  const start = Math.min(now, ...rows.map((row) => Date.parse(row.notBefore)));
  const end = Math.max(now, ...rows.map((row) => Date.parse(row.notAfter)));
  const span = Math.max(end - start, 1);
  const x = (time: number) => LABEL + ((time - start) / span) * (WIDTH - LABEL - 8);
  const height = AXIS + rows.length * ROW + 18;
  const axisY = height - 4;
  const summary = rows.map((row) => `${row.serialHex.slice(0, 8)} ${row.state} from ${formatTime(row.notBefore)} to ${formatTime(row.notAfter)}${row.renewsAt ? `, renews ${formatTime(row.renewsAt)}` : ""}`).join("; ");
  return (
    <svg class="timeline" viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`Validity of ${props.name}: ${summary}`} data-testid="certificate-timeline">
      <text class="axis-label" x={LABEL} y={axisY}>
        {formatTime(new Date(start).toISOString())}
      </text>
      <text class="axis-label" x={WIDTH - 8} y={axisY} text-anchor="end">
        {formatTime(new Date(end).toISOString())}
      </text>
      {rows.map((row, index) => {
        const y = AXIS + index * ROW;
        const from = x(Date.parse(row.notBefore));
        const to = x(row.revokedAt ? Math.min(Date.parse(row.revokedAt), Date.parse(row.notAfter)) : Date.parse(row.notAfter));
        // A retired certificate was presented until the next generation began: the rest of its validity is drawn pale.
        const successor = rows.slice(index + 1).find((next) => Date.parse(next.notBefore) >= Date.parse(row.notBefore));
        const handedOver = row.state === "retired" && successor ? Math.min(Math.max(x(Date.parse(successor.notBefore)), from), to) : to;
        return (
          <g key={row.serialHex} data-serial={row.serialHex} data-state={row.state}>
            <text class="row-label" x={4} y={y + 15}>
              {row.serialHex.slice(0, 8)} {row.state}
            </text>
            {handedOver < to && <rect class="bar bar-after" x={handedOver} y={y + 3} width={to - handedOver} height={ROW - 8} rx={3} />}
            <rect class={`bar bar-${row.state}`} x={from} y={y + 3} width={Math.max(handedOver - from, 2)} height={ROW - 8} rx={3}>
              <title>{`${row.serialHex}: ${row.state}, ${formatTime(row.notBefore)} → ${formatTime(row.notAfter)}`}</title>
            </rect>
            {row.renewsAt && <RenewalMark x={x(Date.parse(row.renewsAt))} y={y + 3 + (ROW - 8) / 2} serialHex={row.serialHex} renewsAt={row.renewsAt} />}
          </g>
        );
      })}
      <line class="now" x1={x(now)} x2={x(now)} y1={AXIS - 4} y2={height} />
      <text class="now-label" x={x(now)} y={AXIS - 6} text-anchor="middle">
        now
      </text>
    </svg>
  );
}

/** When Moat renews a generation: a diamond on its bar, outlined so that it shows on any bar colour. */
function RenewalMark(props: { x: number; y: number; serialHex: string; renewsAt: string }) {
  const r = 6;
  return (
    <path class="renews" data-testid="renewal-mark" d={`M ${props.x} ${props.y - r} L ${props.x + r} ${props.y} L ${props.x} ${props.y + r} L ${props.x - r} ${props.y} Z`}>
      <title>{`${props.serialHex}: Moat renews it ${formatTime(props.renewsAt)}`}</title>
    </path>
  );
}
