#!/usr/bin/env node
// Renders examples/studio-chair.jpg: a product shot of the project's own making (a stylised
// garden chair on a studio floor), used by the README's first command. Run again to regenerate.
const path = require('node:path');
const sharp = require('sharp');

const W = 1200;
const H = 900;
const svg = `
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
  <defs>
    <linearGradient id="wall" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#d9d4cc"/><stop offset="1" stop-color="#b9b2a7"/>
    </linearGradient>
    <linearGradient id="floor" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#8a7a66"/><stop offset="1" stop-color="#5e5142"/>
    </linearGradient>
    <linearGradient id="metal" x1="0" y1="0" x2="1" y2="0">
      <stop offset="0" stop-color="#2f5d50"/><stop offset="0.5" stop-color="#4f8f7c"/>
      <stop offset="1" stop-color="#24473d"/>
    </linearGradient>
    <radialGradient id="shadow" cx="0.5" cy="0.5" r="0.5">
      <stop offset="0" stop-color="#000" stop-opacity="0.45"/><stop offset="1" stop-color="#000" stop-opacity="0"/>
    </radialGradient>
  </defs>
  <rect width="${W}" height="${H}" fill="url(#wall)"/>
  <rect y="610" width="${W}" height="${H - 610}" fill="url(#floor)"/>
  <line x1="0" y1="610" x2="${W}" y2="610" stroke="#6d6152" stroke-width="3"/>
  <ellipse cx="600" cy="790" rx="300" ry="40" fill="url(#shadow)"/>
  <g fill="none" stroke="url(#metal)" stroke-linecap="round" stroke-linejoin="round">
    <path d="M420 780 L450 520 L470 260 Q600 200 730 260 L750 520 L780 780" stroke-width="22"/>
    <path d="M450 520 L750 520" stroke-width="26"/>
    <path d="M470 560 L440 780 M730 560 L760 780" stroke-width="16"/>
    <path d="M490 300 Q600 250 710 300 M485 360 Q600 320 715 360 M480 420 Q600 390 720 420" stroke-width="10"/>
    <path d="M520 280 L515 500 M600 262 L600 505 M680 280 L685 500" stroke-width="10"/>
    <path d="M380 470 Q420 430 460 470 M740 470 Q780 430 820 470" stroke-width="18"/>
  </g>
  <rect x="455" y="492" width="290" height="30" rx="12" fill="#e9e3d8"/>
</svg>`;

sharp(Buffer.from(svg))
  .jpeg({ quality: 88, mozjpeg: true })
  .toFile(path.join(__dirname, '..', 'examples', 'studio-chair.jpg'))
  .then((info) => console.log(`examples/studio-chair.jpg ${info.width}x${info.height} ${info.size} bytes`));
