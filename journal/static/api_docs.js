// The API page: Swagger UI on /api/openapi.json, loaded from a file (the pages' CSP allows no inline script).
// A tab that logged in to a dashboard is authorized already: its access token is in sessionStorage.
const root = document.getElementById("swagger-ui");
const ui = SwaggerUIBundle({ url: root.dataset.spec, domNode: root, deepLinking: true });
const token = sessionStorage.getItem("access_token");
if (token) ui.preauthorizeApiKey("bearer", token);
