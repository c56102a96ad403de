# placeholder: the compiled core
