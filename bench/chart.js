// A dependency-free SVG line chart: throughput (log scale) against payload size (log scale).
'use strict'

function chart(sizes, series) {
  const W = 720
  const H = 420
  const pad = { l: 80, r: 170, t: 40, b: 50 }
  const all = Object.values(series).flat().filter((v) => v > 0)
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)))
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)))
  const x = (i) => pad.l + (i * (W - pad.l - pad.r)) / (sizes.length - 1)
  const y = (v) => pad.t + ((Math.log10(hi) - Math.log10(Math.max(v, lo))) * (H - pad.t - pad.b)) / (Math.log10(hi) - Math.log10(lo))
  const colors = ['#d95f02', '#1b9e77', '#7570b3', '#e7298a']
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - 60}" y="22" font-size="15">Throughput vs payload size</text>`,
  ]
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(d)}" y2="${y(d)}" stroke="#ddd"/>`)
    out.push(`<text x="${pad.l - 8}" y="${y(d) + 4}" text-anchor="end">${d >= 1e6 ? d / 1e6 + 'M' : d >= 1e3 ? d / 1e3 + 'k' : d}</text>`)
  }
  sizes.forEach((s, i) => {
    out.push(`<text x="${x(i)}" y="${H - pad.b + 18}" text-anchor="middle">${s >= 1024 ? s / 1024 + ' KiB' : s + ' B'}</text>`)
  })
  out.push(`<text x="${(pad.l + W - pad.r) / 2}" y="${H - 10}" text-anchor="middle">payload size</text>`)
  out.push(`<text transform="translate(18 ${H / 2}) rotate(-90)" text-anchor="middle">events/s (log)</text>`)
  Object.entries(series).forEach(([name, vals], k) => {
    const c = colors[k % colors.length]
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2.5" points="${vals.map((v, i) => `${x(i)},${y(v)}`).join(' ')}"/>`)
    vals.forEach((v, i) => void out.push(`<circle cx="${x(i)}" cy="${y(v)}" r="3.5" fill="${c}"/>`))
    out.push(`<rect x="${W - pad.r + 15}" y="${pad.t + k * 22}" width="14" height="4" fill="${c}"/>`)
    out.push(`<text x="${W - pad.r + 35}" y="${pad.t + k * 22 + 6}">${name}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}

module.exports = { chart }
