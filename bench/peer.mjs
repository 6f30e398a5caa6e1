// The peer a developer would otherwise pick for generated ads: Vercel's OG-image stack,
// satori (layout + text to SVG) and @resvg/resvg-js (SVG to PNG), both npm devDependencies.
//
// `python -m mintloom.bench` starts this script once and talks JSON lines over stdin/stdout:
//   first line  {"fonts": {"regular": path, "bold": path}, "logo": path}
//   then lines  {"ads": [Ad, ...], "out": optional folder to write the PNGs into}
// and it answers each batch with {"ms": [per-ad ms], "bytes": [PNG sizes]}. An Ad describes the
// same design the compositor draws (see src/mintloom/bench/peer.py): a gradient between two
// colours at an angle, discs and rings, the logo, a bold headline, a body and a CTA button, at the
// compositor's font sizes and positions. Timing covers satori + resvg + PNG encode per ad, after
// the fonts are loaded (as a server would keep them).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import satori from "satori";
import { Resvg } from "@resvg/resvg-js";

const px = (v) => `${Math.round(v)}px`;
const rgb = (c, a = 1) => `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${a})`;

function shapeNode(s) {
  const style = {
    position: "absolute",
    left: px(s.cx - s.r),
    top: px(s.cy - s.r),
    width: px(2 * s.r),
    height: px(2 * s.r),
    borderRadius: "50%",
  };
  if (s.kind === "disc") style.backgroundColor = rgb(s.colour, s.alpha);
  else style.border = `${px(Math.max(2, s.r * 0.08))} solid ${rgb(s.colour, s.alpha)}`;
  return { type: "div", props: { style } };
}

function textNode(t, weight) {
  return {
    type: "div",
    props: {
      style: {
        position: "absolute",
        left: px(t.x),
        top: px(t.y),
        width: px(t.w),
        display: "flex",
        fontFamily: "Noto Sans",
        fontWeight: weight,
        fontSize: px(t.size),
        lineHeight: t.line_height,
        color: rgb(t.colour),
      },
      children: t.text,
    },
  };
}

function adNode(ad, logoUri) {
  const deg = 90 + (ad.angle * 180) / Math.PI; // CSS angles start at "to top", clockwise
  const b = ad.button;
  const children = [
    ...ad.shapes.map(shapeNode),
    {
      type: "img",
      props: { src: logoUri, width: ad.logo.w, height: ad.logo.h, style: { position: "absolute", left: px(ad.logo.x), top: px(ad.logo.y) } },
    },
    textNode(ad.headline, 700),
    textNode(ad.body, 400),
    {
      type: "div",
      props: {
        style: {
          position: "absolute",
          left: px(b.x),
          top: px(b.y),
          width: px(b.w),
          height: px(b.h),
          display: "flex",
          alignItems: "center",
          justifyContent: "center",
          borderRadius: px(b.radius),
          backgroundColor: rgb(b.colour),
          boxShadow: `0 ${px(b.shadow)} 0 rgba(0, 0, 0, 0.24)`,
          fontFamily: "Noto Sans",
          fontWeight: 700,
          fontSize: px(b.size),
          color: rgb(b.text_colour),
        },
        children: b.text,
      },
    },
  ];
  return {
    type: "div",
    props: {
      style: {
        width: px(ad.width),
        height: px(ad.height),
        display: "flex",
        position: "relative",
        backgroundImage: `linear-gradient(${deg}deg, ${rgb(ad.base)}, ${rgb(ad.shade)})`,
      },
      children,
    },
  };
}

async function render(ad, fonts, logoUri) {
  const svg = await satori(adNode(ad, logoUri), { width: ad.width, height: ad.height, fonts });
  return new Resvg(svg, { fitTo: { mode: "original" } }).render().asPng();
}

async function main() {
  const lines = createInterface({ input: process.stdin });
  let fonts = null;
  let logoUri = null;
  for await (const line of lines) {
    const msg = JSON.parse(line);
    if (fonts === null) {
      fonts = [
        { name: "Noto Sans", data: readFileSync(msg.fonts.regular), weight: 400, style: "normal" },
        { name: "Noto Sans", data: readFileSync(msg.fonts.bold), weight: 700, style: "normal" },
      ];
      logoUri = `data:image/png;base64,${readFileSync(msg.logo).toString("base64")}`;
      process.stdout.write(JSON.stringify({ ready: true }) + "\n");
      continue;
    }
    const ms = [];
    const bytes = [];
    for (const [i, ad] of msg.ads.entries()) {
      const t0 = process.hrtime.bigint();
      const png = await render(ad, fonts, logoUri);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      bytes.push(png.length);
      if (msg.out) {
        mkdirSync(msg.out, { recursive: true });
        writeFileSync(join(msg.out, `peer-${i}.png`), png);
      }
    }
    process.stdout.write(JSON.stringify({ ms, bytes }) + "\n");
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
