// The index catalogue as the UI shows it. `GET /v1/indices` is the source when the server has it;
// this built-in copy (the same names, ranges and colour maps as vivacampo-raster's catalogue)
// fills in when it does not, and gives the Portuguese descriptions.

const COLORMAPS = {
  rdylgn: ['#a50026', '#ea5739', '#fdbf6f', '#feffbe', '#b7e075', '#4eb15d', '#006837'],
  viridis: ['#440154', '#443983', '#31688e', '#21918c', '#35b779', '#8ed645', '#fde725'],
  blues: ['#f7fbff', '#d6e6f4', '#abd0e6', '#6aaed6', '#3787c0', '#115ca5', '#08306b'],
  ylgn: ['#ffffe5', '#edf8b2', '#bce395', '#77c679', '#379e54', '#0c723b', '#004529'],
  spectral: ['#9e0142', '#e95c47', '#fdbf6f', '#ffffbe', '#bfe5a0', '#56b0ad', '#5e4fa2'],
  rdylbu: ['#a50026', '#ea5739', '#fdbf71', '#feffc0', '#bde2ee', '#6399c7', '#313695'],
};

function colors(colormap) {
  if (colormap.endsWith('_r')) return [...(COLORMAPS[colormap.slice(0, -2)] ?? COLORMAPS.viridis)].reverse();
  return COLORMAPS[colormap] ?? COLORMAPS.viridis;
}

/** [name, title, range, colormap, english description, portuguese description] */
const BUILT_IN = [
  ['ndvi', 'NDVI', [0, 0.9], 'rdylgn', 'Normalized Difference Vegetation Index: green biomass and vigour (bare soil < 0.2, sparse 0.2–0.5, dense canopy > 0.6).', 'Índice de vegetação por diferença normalizada: biomassa verde e vigor (solo exposto < 0,2, ralo 0,2–0,5, dossel denso > 0,6).'],
  ['ndre', 'NDRE', [0, 0.7], 'rdylgn', 'Normalized Difference Red Edge: chlorophyll in dense canopies.', 'Diferença normalizada na borda do vermelho: clorofila em dosséis densos.'],
  ['evi', 'EVI', [0, 0.8], 'rdylgn', 'Enhanced Vegetation Index: vigour without saturation in dense canopies.', 'Índice de vegetação realçado: vigor sem saturar em dosséis densos.'],
  ['savi', 'SAVI', [0, 0.7], 'rdylgn', 'Soil-Adjusted Vegetation Index: vigour over bright or sparse soil.', 'Índice de vegetação ajustado ao solo: vigor sobre solo exposto ou cobertura rala.'],
  ['gndvi', 'GNDVI', [0.2, 0.8], 'ylgn', 'Green NDVI: chlorophyll, more sensitive than NDVI late in the season.', 'NDVI verde: clorofila, mais sensível que o NDVI no fim do ciclo.'],
  ['ndmi', 'NDMI', [-0.4, 0.5], 'rdylbu', 'Normalized Difference Moisture Index: canopy water content (bare or dry < 0, well-watered canopy > 0.3).', 'Índice de umidade por diferença normalizada: água no dossel (solo exposto ou seco < 0, dossel bem hidratado > 0,3).'],
  ['ndwi', 'NDWI', [-0.8, 0], 'viridis', 'Normalized Difference Water Index (McFeeters): open water above 0; vegetation −0.8…−0.4, bare soil −0.4…−0.1.', 'Índice de água por diferença normalizada (McFeeters): água livre acima de 0; vegetação −0,8…−0,4, solo exposto −0,4…−0,1.'],
  ['reci', 'CIre', [0, 4], 'viridis', 'Red-edge Chlorophyll Index: leaf chlorophyll and nitrogen.', 'Índice de clorofila na borda do vermelho: clorofila e nitrogênio foliar.'],
  ['msi', 'MSI', [0.2, 2], 'spectral_r', 'Moisture Stress Index: higher is drier (< 0.6 well hydrated, > 1.6 severe stress).', 'Índice de estresse hídrico: quanto maior, mais seco (< 0,6 bem hidratado, > 1,6 estresse severo).'],
  ['nbr', 'NBR', [-0.2, 0.7], 'rdylgn', 'Normalized Burn Ratio: burnt areas and harvest.', 'Razão normalizada de queima: áreas queimadas e colheita.'],
  ['bsi', 'BSI', [-0.5, 0.3], 'spectral_r', 'Bare Soil Index: exposed soil.', 'Índice de solo exposto.'],
  ['ari', 'ARI', [2, 7], 'viridis', 'Anthocyanin Reflectance Index: plant stress pigments.', 'Índice de antocianinas: pigmentos de estresse da planta.'],
  ['cri', 'CRI', [0, 30], 'viridis', 'Carotenoid Reflectance Index.', 'Índice de carotenoides.'],
];

function legendOf(range, colormap) {
  const stops = colors(colormap);
  return stops.map((color, i) => ({ value: range[0] + ((range[1] - range[0]) * i) / (stops.length - 1), color }));
}

export const FALLBACK_INDICES = BUILT_IN.map(([name, title, range, colormap, description, descriptionPt]) => ({
  name, title, range, colormap, description, description_pt: descriptionPt, legend: legendOf(range, colormap),
}));

/**
 * The catalogue to show: the server's entries (in its order, true colour left out since it has no
 * chart) with the built-in Portuguese text and legend where the server lacks them.
 */
export function mergeIndices(serverItems) {
  if (!Array.isArray(serverItems) || serverItems.length === 0) return FALLBACK_INDICES;
  const builtIn = new Map(FALLBACK_INDICES.map((i) => [i.name, i]));
  return serverItems.filter((i) => i.name !== 'true_color').map((item) => {
    const local = builtIn.get(item.name) ?? {};
    const range = item.range ?? local.range ?? [0, 1];
    const legend = Array.isArray(item.legend) && item.legend.length > 1 ? item.legend : local.legend ?? legendOf(range, item.colormap ?? 'viridis');
    return { ...local, ...item, range, legend, description_pt: local.description_pt ?? item.description };
  });
}

/** A CSS linear-gradient of a legend. */
export function legendGradient(legend) {
  const lo = legend[0].value;
  const hi = legend.at(-1).value;
  const span = hi - lo || 1;
  return `linear-gradient(to right, ${legend.map((s) => `${s.color} ${(((s.value - lo) / span) * 100).toFixed(1)}%`).join(', ')})`;
}

/** The catalogue split for the index selector: optical indices, then radar ones (`sensor: "radar"`). */
export function groupIndices(indices) {
  const radar = (indices ?? []).filter((i) => i.sensor === 'radar');
  return { optical: (indices ?? []).filter((i) => i.sensor !== 'radar'), radar };
}
