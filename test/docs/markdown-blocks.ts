// Reads the fenced code blocks of a Markdown page, with the HTML comment markers that say what to do with them (docs/tutorials/index.md explains the markers).
import { readFileSync } from "node:fs";

export interface CodeBlock {
  /** The fence's language: sh, yaml, js, text… */
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The comments on the lines right above the fence: `illustrative`, `cleanup`, `file: moat.yaml`, `output contains: …`. */
  markers: string[];
}

/** Every fenced block of `file`, in order. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const blocks: CodeBlock[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    const open = /^(```|~~~)\s*([\w-]*)/.exec(lines[index] ?? "");
    if (!open) continue;
    const fence = open[1] ?? "```";
    const markers: string[] = [];
    for (let above = index - 1; above >= 0; above -= 1) {
      const marker = /^<!--\s*(.*?)\s*-->$/.exec((lines[above] ?? "").trim());
      if (!marker) break;
      markers.unshift(marker[1] ?? "");
    }
    const body: string[] = [];
    let close = index + 1;
    while (close < lines.length && !(lines[close] ?? "").startsWith(fence)) body.push(lines[close++] ?? "");
    blocks.push({ lang: open[2] ?? "", code: `${body.join("\n")}\n`, line: index + 1, markers });
    index = close;
  }
  return blocks;
}

/** The value of a `name: value` marker, or undefined. */
export function markerValue(block: CodeBlock, name: string): string | undefined {
  const prefix = `${name}:`;
  return block.markers.find((marker) => marker.startsWith(prefix))?.slice(prefix.length).trim();
}

/** Page-level markers: comments anywhere at the start of a line, such as `<!-- continues: front-your-first-origin.md -->`. */
export function pageMarker(file: string, name: string): string | undefined {
  const match = new RegExp(`^<!--\\s*${name}:\\s*(.*?)\\s*-->$`, "m").exec(readFileSync(file, "utf8"));
  return match?.[1];
}
