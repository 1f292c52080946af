"""The web page (Gradio): its declaration, handlers, HTML and the HTTP edges."""
