// The pages render in the browser and read everything from /api: a render on the server would
// send its fetches to the page router, not to the API.
export const ssr = false;
