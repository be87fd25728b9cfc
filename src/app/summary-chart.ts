import { OUTCOMES, type Outcome, type SummaryData } from "../store/audit-summary.js";

/**
 * The summary's chart: requests over the window by outcome, as stacked bars per time bucket.
 * Drawn by Vega-Lite (compiled to Vega, rendered to SVG without a browser or canvas) and rasterised
 * to PNG by resvg, whose native binary ships in the npm registry: nothing is downloaded at run time
 * and nothing is drawn by hand. Both libraries are loaded on first use, so processes that never
 * post a summary (and the CLI) do not pay for them.
 */
const LABELS: Record<Outcome, string> = {
  granted: "granted",
  denied: "denied",
  timedOut: "timed out",
  cancelled: "cancelled",
  failed: "failed",
};
const COLORS: Record<Outcome, string> = {
  granted: "#2e7d32",
  denied: "#c62828",
  timedOut: "#f9a825",
  cancelled: "#757575",
  failed: "#6a1b9a",
};

export const CHART_WIDTH = 720;
export const CHART_HEIGHT = 260;

/** The Vega-Lite specification: one bar per bucket (every bucket present, so gaps read as zero). */
export function chartSpec(data: SummaryData, title: string): Record<string, unknown> {
  const buckets = Math.max(
    1,
    Math.ceil((data.window.to.getTime() - data.window.from.getTime()) / (data.bucketSec * 1000)),
  );
  const counts = new Map(data.series.map((p) => [`${p.bucket}:${p.outcome}`, p.count]));
  const values = [];
  for (let bucket = 0; bucket < buckets; bucket++) {
    const start = new Date(data.window.from.getTime() + bucket * data.bucketSec * 1000).toISOString();
    for (const outcome of OUTCOMES) {
      values.push({ start, outcome: LABELS[outcome], count: counts.get(`${bucket}:${outcome}`) ?? 0 });
    }
  }
  const hourly = data.bucketSec < 86_400;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, anchor: "start" },
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    background: "white",
    config: { font: "sans-serif" },
    data: { values },
    mark: { type: "bar" },
    encoding: {
      x: {
        field: "start",
        type: "ordinal",
        title: hourly ? "time (UTC)" : "day (UTC)",
        timeUnit: hourly ? "utcmonthdatehours" : "utcmonthdate",
        axis: { labelAngle: -45, labelOverlap: true },
      },
      y: {
        field: "count",
        type: "quantitative",
        aggregate: "sum",
        title: "requests",
        axis: { tickMinStep: 1 },
      },
      color: {
        field: "outcome",
        type: "nominal",
        title: "outcome",
        scale: { domain: OUTCOMES.map((o) => LABELS[o]), range: OUTCOMES.map((o) => COLORS[o]) },
      },
    },
  };
}

/** Renders the chart to PNG bytes. */
export async function renderChart(data: SummaryData, title: string): Promise<Buffer> {
  const [vega, vegaLite, { Resvg }] = await Promise.all([
    import("vega"),
    import("vega-lite"),
    import("@resvg/resvg-js"),
  ]);
  const compiled = vegaLite.compile(chartSpec(data, title) as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, {
      background: "white",
      fitTo: { mode: "zoom", value: 2 },
      font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" },
    }).render();
    return png.asPng();
  } finally {
    view.finalize();
  }
}
