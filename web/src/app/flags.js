// The feature flags in force for the signed-in workspace (`GET /v1/flags`, `{key: bool}`): the
// app hides what is off. Flags not yet known (or a server without them) count as on.

/** Whether `key` is on in `flags` (null while unknown: on). */
export function flagOn(flags, key) {
  return flags?.[key] !== false;
}

/** The parts of the field panel and map shown under `flags`. */
export function visibleParts(flags) {
  return {
    indexLayer: flagOn(flags, 'tiles'),
    retry: flagOn(flags, 'backfill'),
    weather: flagOn(flags, 'weather'),
    rasterDownload: flagOn(flags, 'raster_download'),
    signals: flagOn(flags, 'signals'),
    webhooks: flagOn(flags, 'webhooks'),
    email: flagOn(flags, 'email'),
  };
}
