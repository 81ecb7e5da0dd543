/**
 * The links as a graph, drawn as SVG: actors and providers are nodes, each link an edge from
 * its source to its target labelled with its interface. Layered left to right: a node sits one
 * column right of the furthest of its callers, so HTTP server → actor → key-value reads across.
 */
import { DEFAULT_LINK_NAME, type Link } from "../../protocol/index.js";
import { svg } from "./dom.js";

export type NodeKind = "actor" | "provider" | "unknown";

export interface PlacedNode {
  id: string;
  kind: NodeKind;
  x: number;
  y: number;
}

export interface PlacedEdge {
  link: Link;
  path: string;
  labelX: number;
  labelY: number;
}

export interface GraphLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export const NODE_W = 150;
export const NODE_H = 34;
const COL_GAP = 190;
const ROW_GAP = 26;
const PAD = 16;

/** The key tests and the links table use for a link: `source interface name`. */
export function linkId(l: Pick<Link, "source" | "interface" | "name">): string {
  return `${l.source} ${l.interface} ${l.name}`;
}

/** Where every node and edge goes. Pure. */
export function layoutGraph(links: readonly Link[], kindOf: (id: string) => NodeKind): GraphLayout {
  const ids = [...new Set(links.flatMap((l) => [l.source, l.target]))].sort();
  const rank = new Map(ids.map((id) => [id, 0]));
  // Longest path from the nodes nobody calls; a cycle stops growing after as many rounds as nodes.
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const l of links) {
      if (l.source === l.target) continue;
      const r = rank.get(l.source)! + 1;
      if (r > rank.get(l.target)! && r < ids.length) {
        rank.set(l.target, r);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns: string[][] = [];
  for (const id of ids) (columns[rank.get(id)!] ??= []).push(id);
  const dense = columns.filter((c) => c !== undefined);
  const rows = Math.max(1, ...dense.map((c) => c.length));
  const height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP + 24;
  const nodes: PlacedNode[] = [];
  const at = new Map<string, PlacedNode>();
  dense.forEach((col, ci) => {
    // Centre each column vertically.
    const top = PAD + 24 + ((rows - col.length) * (NODE_H + ROW_GAP)) / 2;
    col.forEach((id, ri) => {
      const n = { id, kind: kindOf(id), x: PAD + ci * (NODE_W + COL_GAP), y: top + ri * (NODE_H + ROW_GAP) };
      nodes.push(n);
      at.set(id, n);
    });
  });
  const edges = links.map((link): PlacedEdge => {
    const s = at.get(link.source)!;
    const t = at.get(link.target)!;
    if (s === t) {
      // A self link: a loop off the right side.
      const x = s.x + NODE_W;
      const y = s.y + NODE_H / 2;
      return { link, path: `M ${x} ${y - 8} C ${x + 50} ${y - 40}, ${x + 50} ${y + 40}, ${x} ${y + 8}`, labelX: x + 40, labelY: y - 28 };
    }
    if (t.x > s.x) {
      const [x1, y1, x2, y2] = [s.x + NODE_W, s.y + NODE_H / 2, t.x, t.y + NODE_H / 2];
      const dx = (x2 - x1) / 2;
      return { link, path: `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2 - 6} ${y2}`, labelX: (x1 + x2) / 2, labelY: (y1 + y2) / 2 - 6 };
    }
    // Back or sideways (a cycle): over the top.
    const [x1, y1, x2, y2] = [s.x + NODE_W / 2, s.y, t.x + NODE_W / 2, t.y - 6];
    const lift = Math.min(y1, y2) - 22;
    return { link, path: `M ${x1} ${y1} C ${x1} ${lift}, ${x2} ${lift}, ${x2} ${y2}`, labelX: (x1 + x2) / 2, labelY: lift + 2 };
  });
  const width = PAD * 2 + Math.max(1, dense.length) * NODE_W + Math.max(0, dense.length - 1) * COL_GAP + 60;
  return { nodes, edges, width, height };
}

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The graph as an `<svg>`; every node has `data-node`, every edge `data-edge` (see {@link linkId}). */
export function renderGraph(links: readonly Link[], kindOf: (id: string) => NodeKind): SVGSVGElement {
  const g = layoutGraph(links, kindOf);
  const root = svg("svg", { class: "graph", viewBox: `0 0 ${g.width} ${g.height}`, width: g.width, height: g.height, role: "img", "aria-label": "links between actors and providers" });
  root.append(
    svg(
      "defs",
      {},
      svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 4, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" })),
    ),
  );
  for (const e of g.edges) {
    const label = e.link.name === DEFAULT_LINK_NAME ? e.link.interface : `${e.link.interface} (${e.link.name})`;
    root.append(
      svg(
        "g",
        { class: "edge", "data-edge": linkId(e.link), "data-source": e.link.source, "data-target": e.link.target },
        svg("title", {}, `${e.link.source} → ${e.link.target}: ${label}${e.link.config.length ? ` · config ${e.link.config.join(", ")}` : ""}`),
        svg("path", { d: e.path, "marker-end": "url(#arrow)" }),
        svg("text", { x: e.labelX, y: e.labelY, "text-anchor": "middle", class: "edge-label" }, shorten(label, 34)),
      ),
    );
  }
  for (const n of g.nodes) {
    root.append(
      svg(
        "g",
        { class: `node node-${n.kind}`, "data-node": n.id, "data-kind": n.kind, transform: `translate(${n.x} ${n.y})` },
        svg("title", {}, `${n.kind} ${n.id}`),
        svg("rect", { width: NODE_W, height: NODE_H, rx: n.kind === "provider" ? 17 : 6 }),
        svg("text", { x: 12, y: NODE_H / 2 + 4, class: "node-kind" }, n.kind === "actor" ? "A" : n.kind === "provider" ? "P" : "?"),
        svg("text", { x: 28, y: NODE_H / 2 + 4, class: "node-label" }, shorten(n.id, 17)),
      ),
    );
  }
  return root;
}
