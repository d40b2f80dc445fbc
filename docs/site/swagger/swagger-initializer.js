/* Swagger UI for mod_issuetracker: everything same-origin, nothing from a CDN.
 * Kept out of index.html so that a Content-Security-Policy of script-src 'self' works. */
window.addEventListener("load", function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Keep the Authorize dialog's bearer token / Basic credentials across reloads.
    persistAuthorization: true,
    // Never send the spec to validator.swagger.io (an outside request and badge image).
    validatorUrl: null,
    // Do not let ?url= / ?configUrl= in the page address load another document.
    queryConfigEnabled: false,
    displayRequestDuration: true,
    filter: true,
    tryItOutEnabled: false,
    defaultModelsExpandDepth: 1,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    // StandaloneLayout without its top bar (the bar offers loading any URL, which this
    // page has no use for).
    layout: "BaseLayout"
  });
});
